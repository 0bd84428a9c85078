// gpupool-output-capture-bench: what forwarding device printf costs a session worker per answered
// call (remoting/server/output_capture.h: the worker calls Take before every reply). Prints JSON
// lines: Take with nothing written, next to its baseline, one non-blocking read of an empty pipe
// (the one system call Take makes then); and Take of a 100-byte line, next to writing that line
// into the pipe and reading it back directly.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "remoting/server/output_capture.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRounds = 200000;

template <typename Fn>
double NsPerCall(Fn fn) {
  const auto start = Clock::now();
  for (int i = 0; i < kRounds; ++i) fn();
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kRounds;
}

void Emit(const char* metric, double value, double baseline) {
  std::printf("{\"metric\":\"%s\",\"unit\":\"ns\",\"value\":%.1f,\"baseline\":%.1f,\"ratio\":%.3f}\n", metric,
              value, baseline, value / baseline);
}

}  // namespace

int main() {
  int target = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  auto capture = gpupool::server::OutputCapture::Start(target, 4u << 20, nullptr);
  int raw[2];
  if (target < 0 || !capture.ok() || ::pipe2(raw, O_NONBLOCK | O_CLOEXEC) != 0) {
    std::fprintf(stderr, "gpupool-output-capture-bench: cannot set up pipes\n");
    return 1;
  }
  std::string text;
  std::uint64_t dropped = 0;
  char buffer[4096];
  const std::string line(99, 'x');
  const std::string with_newline = line + "\n";

  const double take_empty = NsPerCall([&] { (*capture)->Take(&text, &dropped); });
  const double read_empty = NsPerCall([&] { (void)!::read(raw[0], buffer, sizeof buffer); });
  Emit("take_nothing_written", take_empty, read_empty);

  const double take_line = NsPerCall([&] {
    (void)!::write(target, with_newline.data(), with_newline.size());
    text.clear();
    (*capture)->Take(&text, &dropped);
  });
  const double direct_line = NsPerCall([&] {
    (void)!::write(raw[1], with_newline.data(), with_newline.size());
    (void)!::read(raw[0], buffer, sizeof buffer);
  });
  Emit("write_and_take_100_byte_line", take_line, direct_line);
  return 0;
}
