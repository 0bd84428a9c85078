#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>

#include "common/fork_safe.h"

namespace gpupool {
namespace {

LogLevel LevelFromEnv() {
  const char* v = std::getenv("GPUPOOL_LOG_LEVEL");
  if (v == nullptr) return LogLevel::kInfo;
  std::string_view s(v);
  if (s == "error") return LogLevel::kError;
  if (s == "warn" || s == "warning") return LogLevel::kWarn;
  if (s == "debug") return LogLevel::kDebug;
  if (s == "trace") return LogLevel::kTrace;
  return LogLevel::kInfo;
}

std::atomic<int>& LevelStorage() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnv())};
  return level;
}

std::atomic<LogObserver>& ObserverStorage() {
  static std::atomic<LogObserver> observer{nullptr};
  return observer;
}

// Constant-initialised, so usable from any static initialiser, and never destroyed in effect (a
// std::mutex's destructor does nothing), so threads may log during exit.
std::mutex g_component_mu;   // guards Component()
std::mutex g_first_time_mu;  // guards FirstTimeFor's set

std::string& Component() {
  static std::string c = "gpupool";
  return c;
}

// Done when the program (or the client library) is loaded, before its threads run: the locks are
// held across fork (common/fork_safe.h), and the level is read, since a fork while another thread was
// still initialising a function-local static would leave the child waiting on its guard for ever.
[[maybe_unused]] const bool g_ready_for_fork =
    (HoldAcrossFork(&g_component_mu), HoldAcrossFork(&g_first_time_mu), LevelStorage(), true);

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "E";
    case LogLevel::kWarn: return "W";
    case LogLevel::kInfo: return "I";
    case LogLevel::kDebug: return "D";
    case LogLevel::kTrace: return "T";
  }
  return "?";
}

}  // namespace

LogLevel CurrentLogLevel() {
  return static_cast<LogLevel>(LevelStorage().load(std::memory_order_relaxed));
}

void SetLogLevel(LogLevel level) {
  LevelStorage().store(static_cast<int>(level));
}

void SetLogObserver(LogObserver observer) {
  ObserverStorage().store(observer);
}

LogLevel WantedLogLevel() {
  const LogLevel level = CurrentLogLevel();
  if (level < LogLevel::kWarn && ObserverStorage().load(std::memory_order_relaxed) != nullptr)
    return LogLevel::kWarn;
  return level;
}

void SetLogComponent(std::string_view component) {
  std::lock_guard<std::mutex> lock(g_component_mu);
  Component() = std::string(component);
}

bool FirstTimeFor(std::string_view key) {
  std::lock_guard<std::mutex> lock(g_first_time_mu);
  static std::set<std::string, std::less<>> seen;  // made under the lock, which fork() waits for
  return seen.emplace(key).second;
}

std::string UtcTimeOfDay(std::chrono::system_clock::time_point when, int fraction_digits) {
  using std::chrono::microseconds;
  const long long micros = std::chrono::duration_cast<microseconds>(when.time_since_epoch()).count();
  constexpr long long kMicrosPerDay = 86400LL * 1000000;
  const long long of_day = (micros % kMicrosPerDay + kMicrosPerDay) % kMicrosPerDay;
  const int seconds = static_cast<int>(of_day / 1000000);
  char text[48];  // room for any int: the compiler checks the format against the widest
  std::snprintf(text, sizeof text, "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
  std::string out = text;
  if (fraction_digits > 0) {
    std::snprintf(text, sizeof text, "%06d", static_cast<int>(of_day % 1000000));
    out.push_back('.');
    out.append(text, static_cast<std::size_t>(std::min(fraction_digits, 6)));
  }
  return out;
}

LogLine::LogLine(LogLevel level, const char* file, int line) : level_(level) {
  const std::string stamp = UtcTimeOfDay(std::chrono::system_clock::now(), 6);
  std::string component;
  {
    std::lock_guard<std::mutex> lock(g_component_mu);
    component = Component();
  }
  std::string_view f(file);
  if (auto slash = f.rfind('/'); slash != std::string_view::npos) f.remove_prefix(slash + 1);
  stream_ << LevelName(level_) << ' ' << stamp << ' ' << component << '[' << ::getpid() << "] " << f << ':'
          << line << "] ";
  prefix_ = static_cast<std::size_t>(stream_.tellp());
}

LogLine::~LogLine() {
  stream_ << '\n';
  const std::string s = stream_.str();
  if (level_ <= CurrentLogLevel()) {
    // One write keeps concurrent lines whole; a short write to a pipe is not worth retrying here.
    ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
    (void)ignored;
  }
  if (level_ > LogLevel::kWarn) return;
  if (LogObserver observer = ObserverStorage().load(); observer != nullptr)
    observer(level_, std::string_view(s).substr(prefix_, s.size() - prefix_ - 1));
}

}  // namespace gpupool
