// Logging to stderr: one line per message, written with a single write(2) so lines from threads and
// processes do not interleave. The level comes from GPUPOOL_LOG_LEVEL (error|warn|info|debug|trace;
// default info) read once, or from SetLogLevel. A process may also set one observer that receives every
// warning and error, whatever the level (the client's driver log behind cuLogs*, driver_log.h).
//
//   GPUPOOL_LOG(kWarn) << "server " << addr << " unreachable";
//   GPUPOOL_LOG_ONCE(kWarn, "cuFoo") << "cuFoo is not supported";   // first time per key only
//
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <chrono>
#include <sstream>
#include <string>
#include <string_view>

namespace gpupool {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

LogLevel CurrentLogLevel();
void SetLogLevel(LogLevel level);
// The program name shown in each line ("gpupool-server[1234]"); set once at start of main().
void SetLogComponent(std::string_view component);
// True the first time it is called with `key` in this process, false afterwards.
bool FirstTimeFor(std::string_view key);

// "HH:MM:SS" and `fraction_digits` (0 to 6) digits of the second, in UTC. Computed without gmtime_r,
// which takes glibc's time zone lock: a child forked while another thread held it could never log.
std::string UtcTimeOfDay(std::chrono::system_clock::time_point when, int fraction_digits);

// Receives each kWarn and kError message (the text after the line's prefix, without the newline) on
// the thread that logs it, after the line went to stderr. It must not log itself.
using LogObserver = void (*)(LogLevel level, std::string_view message);
// Sets (or, with nullptr, clears) the process's observer.
void SetLogObserver(LogObserver observer);
// The most verbose level anyone listens to: the stderr level, or kWarn when an observer is set.
LogLevel WantedLogLevel();

class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <typename T>
  LogLine& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
  std::size_t prefix_ = 0;  // length of the prefix (level, time, component, place) in stream_
};

}  // namespace gpupool

#define GPUPOOL_LOG(level)                                        \
  if (::gpupool::LogLevel::level > ::gpupool::WantedLogLevel()) { \
  } else                                                          \
    ::gpupool::LogLine(::gpupool::LogLevel::level, __FILE__, __LINE__)

#define GPUPOOL_LOG_ONCE(level, key)                                                               \
  if (::gpupool::LogLevel::level > ::gpupool::WantedLogLevel() || !::gpupool::FirstTimeFor(key)) { \
  } else                                                                                           \
    ::gpupool::LogLine(::gpupool::LogLevel::level, __FILE__, __LINE__)
