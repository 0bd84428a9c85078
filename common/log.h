// Logging to stderr: one line per message, written with a single write(2) so lines from threads and
// processes do not interleave. The level comes from GPUPOOL_LOG_LEVEL (error|warn|info|debug|trace;
// default info) read once, or from SetLogLevel.
//
//   GPUPOOL_LOG(kWarn) << "server " << addr << " unreachable";
//   GPUPOOL_LOG_ONCE(kWarn, "cuFoo") << "cuFoo is not supported";   // first time per key only
//
// Thread-safety: all functions are safe to call from any thread.
#pragma once

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
};

}  // namespace gpupool

#define GPUPOOL_LOG(level)                                         \
  if (::gpupool::LogLevel::level > ::gpupool::CurrentLogLevel()) { \
  } else                                                           \
    ::gpupool::LogLine(::gpupool::LogLevel::level, __FILE__, __LINE__)

#define GPUPOOL_LOG_ONCE(level, key)                                                                \
  if (::gpupool::LogLevel::level > ::gpupool::CurrentLogLevel() || !::gpupool::FirstTimeFor(key)) { \
  } else                                                                                            \
    ::gpupool::LogLine(::gpupool::LogLevel::level, __FILE__, __LINE__)
