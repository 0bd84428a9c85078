// `gpupool top`: live sessions of GPU servers (pod or process, memory, compute share, busy time,
// throughput), refreshed every --interval until interrupted; --once or --count N for scripts.
// Exit 0 when interrupted or when every server answered the last refresh, 1 when one did not,
// 2 on bad usage.
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/server_flags.h"
#include "cli/top_frame.h"
#include "common/units.h"

namespace gpupool::cli {
namespace {

constexpr const char* kUsage =
    "usage: gpupool top [--server HOST:PORT]... [--interval DURATION] [--once | --count N] [--json]\n"
    "\n"
    "Shows the live sessions of GPU servers: pod or process, GPU, memory used and its limit, compute\n"
    "share, GPU busy time, kernel launches and bytes moved per second. Refreshes until interrupted.\n"
    "\n"
    "flags:\n";

constexpr const char* kUsageTail =
    "  --interval DURATION  time between refreshes (default 2s, at least 100ms)\n"
    "  --once               print one frame and exit (rates are averages since each session started)\n"
    "  --count N            print N frames and exit\n"
    "  -h, --help           show this help\n"
    "\n"
    "With --json each frame is one JSON object on its own line.\n"
    "\n"
    "exit status: 0 interrupted, or all servers answered the last refresh; 1 a server did not; 2 bad usage\n";

struct TopFlags {
  std::chrono::milliseconds interval{2000};
  std::optional<long> count;  // frames to print; unset = until interrupted
  bool once = false;
};

Status ParseTopFlag(const std::vector<std::string>& args, std::size_t* i, TopFlags* top) {
  std::string value;
  if (args[*i] == "--once") {
    top->once = true;
    ++*i;
    return Status::Ok();
  }
  GPUPOOL_ASSIGN_OR_RETURN(bool is_interval, TakeFlagValue(args, i, "--interval", &value));
  if (is_interval) {
    auto ms = ParseDurationMs(value);
    if (!ms.ok()) return Status::InvalidArgument("--interval: " + ms.status().message());
    if (*ms < 100) return Status::InvalidArgument("--interval must be at least 100ms");
    top->interval = std::chrono::milliseconds(*ms);
    return Status::Ok();
  }
  GPUPOOL_ASSIGN_OR_RETURN(bool is_count, TakeFlagValue(args, i, "--count", &value));
  if (is_count) {
    long n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n < 1) {
      return Status::InvalidArgument("--count \"" + value + "\" is not a whole number of at least 1");
    }
    top->count = n;
    return Status::Ok();
  }
  return Status::InvalidArgument("unknown flag \"" + args[*i] + "\"");
}

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Waits `interval` or until SIGINT/SIGTERM arrives (both blocked by the caller); true on a signal.
bool WaitForSignal(const sigset_t& signals, std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + interval;
  while (true) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return false;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    if (::sigtimedwait(&signals, nullptr, &ts) > 0) return true;
    // EAGAIN is the timeout; EINTR (another signal) waits for the rest of the interval.
  }
}

}  // namespace

int TopCommand(const std::vector<std::string>& args) {
  TopFlags top;
  auto flags = ParseServerFlags(
      args, [&top](const std::vector<std::string>& a, std::size_t* i) { return ParseTopFlag(a, i, &top); });
  if (!flags.ok()) {
    std::fprintf(stderr, "gpupool top: %s\n(see 'gpupool top --help')\n", flags.status().message().c_str());
    return kExitUsage;
  }
  if (flags->help) {
    std::printf("%s%s%s", kUsage, ServerFlagsHelp(), kUsageTail);
    return kExitOk;
  }
  if (top.once && top.count) {
    std::fprintf(stderr, "gpupool top: --once and --count are exclusive\n(see 'gpupool top --help')\n");
    return kExitUsage;
  }
  if (top.once) top.count = 1;

  // Block the interrupt signals before any thread exists, so every thread (gRPC's, the query
  // threads) inherits the mask and only sigtimedwait below receives them: Ctrl-C ends the loop
  // cleanly between frames instead of killing the process mid-line.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const bool clear_screen = !flags->json && top.count != 1 && ::isatty(STDOUT_FILENO) == 1;
  ControlClients clients(flags->servers, flags->timeout, flags->access);
  std::optional<TopSample> previous;
  bool all_answered = true;
  for (long frame = 1;; ++frame) {
    TopSample sample;
    sample.reports = clients.Query(/*with_sessions=*/true);
    sample.unix_ms = NowUnixMs();
    all_answered = true;
    for (const ServerReport& r : sample.reports) all_answered = all_answered && r.status.ok();
    const TopSample* before = previous ? &*previous : nullptr;
    if (flags->json) {
      std::printf("%s\n", TopJson(sample, before).dump().c_str());
    } else {
      if (clear_screen) std::fputs("\033[H\033[2J", stdout);
      if (frame > 1 && !clear_screen) std::fputs("\n", stdout);
      std::fputs(TopTable(sample, before).c_str(), stdout);
    }
    std::fflush(stdout);
    previous = std::move(sample);
    if (top.count && frame >= *top.count) break;
    if (WaitForSignal(signals, top.interval)) return kExitOk;
  }
  if (!all_answered) {
    for (const ServerReport& r : previous->reports) {
      if (!r.status.ok()) {
        std::fprintf(stderr, "gpupool top: %s: %s\n", r.target.name.c_str(), r.status.message().c_str());
      }
    }
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace gpupool::cli
