// The driver log behind cuLogs* (remoting/client/driver_log.h): iterators, both dumps with their
// documented size and truncation rules, callbacks (also registered from inside a callback) and the
// route from the client's own log lines (common/log.h's observer).
#include "remoting/client/driver_log.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace gpupool::client {
namespace {

std::string Dump(const DriverLog& log, CUlogIterator* it, std::size_t room = 32768) {
  std::string buffer(room, 'x');
  std::size_t size = room;
  REQUIRE(log.DumpToMemory(it, buffer.data(), &size, 0) == CUDA_SUCCESS);
  REQUIRE(size < room);
  CHECK(buffer[size] == '\0');
  return buffer.substr(0, size);
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

struct Seen {
  std::vector<std::string> messages;
  std::vector<CUlogLevel> levels;
};

void Remember(void* data, CUlogLevel level, char* message, std::size_t length) {
  auto* seen = static_cast<Seen*>(data);
  seen->messages.emplace_back(message, length);
  seen->levels.push_back(level);
}

TEST_CASE("driver log: lines, iterators and a dump to memory") {
  DriverLog log;
  CUlogIterator start = 99;
  REQUIRE(log.Current(&start, 0) == CUDA_SUCCESS);
  CHECK(start == 0);
  CHECK(Dump(log, nullptr).empty());  // nothing logged: size 0, success
  log.Add(LogLevel::kError, "first failure");
  log.Add(LogLevel::kWarn, "a warning");
  CUlogIterator it = start;
  const std::string both = Dump(log, &it);
  CHECK(it == 2);
  CHECK(Count(both, "\n") == 2);
  CHECK(both.find("[gpupool][E] first failure\n") != std::string::npos);
  CHECK(both.find("[gpupool][W] a warning\n") != std::string::npos);
  CHECK(both.find("first failure") < both.find("a warning"));
  CHECK(Dump(log, &it).empty());  // auto-advanced: nothing new
  log.Add(LogLevel::kError, "third");
  const std::string third = Dump(log, &it);
  CHECK(Count(third, "\n") == 1);
  CHECK(third.find("third") != std::string::npos);
  CHECK(Count(Dump(log, nullptr), "\n") == 3);  // null: everything kept
  CUlogIterator now = 0;
  REQUIRE(log.Current(&now, 0) == CUDA_SUCCESS);
  CHECK(now == 3);
}

TEST_CASE("driver log: bad arguments are CUDA_ERROR_INVALID_VALUE") {
  DriverLog log;
  log.Add(LogLevel::kError, "something");
  char buffer[256];
  std::size_t size = sizeof buffer;
  CUlogIterator it = 0;
  CHECK(log.Current(nullptr, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(log.Current(&it, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(log.DumpToMemory(&it, buffer, &size, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(log.DumpToMemory(&it, nullptr, &size, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(log.DumpToMemory(&it, buffer, nullptr, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(log.DumpToFile(&it, nullptr, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(log.DumpToFile(&it, "/nonexistent-dir/log.txt", 0) == CUDA_ERROR_INVALID_VALUE);
  testing::TempDir dir;
  CHECK(log.DumpToFile(&it, dir.File("log.txt").c_str(), 2) == CUDA_ERROR_INVALID_VALUE);
  CUlogIterator future = 5;  // past the end of the log
  CHECK(log.DumpToMemory(&future, buffer, &size, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(it == 0);  // no failed call advanced it
  CHECK(log.Register(nullptr, nullptr, nullptr) == CUDA_ERROR_INVALID_VALUE);
  CHECK(log.Unregister(nullptr) == CUDA_ERROR_INVALID_VALUE);
  int not_a_handle = 0;
  CHECK(log.Unregister(reinterpret_cast<CUlogsCallbackHandle>(&not_a_handle)) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("driver log: a buffer too small keeps the newest lines behind a note, or fails with size 0") {
  DriverLog log;
  for (int i = 0; i < 10; ++i) log.Add(LogLevel::kError, "message number " + std::to_string(i));
  const std::string all = Dump(log, nullptr);
  const std::size_t line = all.size() / 10;

  SECTION("room for a few lines") {
    CUlogIterator it = 0;
    const std::string part = Dump(log, &it, line * 4);
    CHECK(part.size() < line * 4);
    CHECK(part.find("earlier log messages left out: the buffer is too small") < part.find("message number"));
    CHECK(part.find("message number 9\n") == part.size() - std::string("message number 9\n").size());
    CHECK(part.find("message number 0") == std::string::npos);
    const int kept = Count(part, "message number");
    CHECK(kept >= 1);
    CHECK(part.find(std::to_string(10 - kept) + " earlier log messages left out") != std::string::npos);
    CHECK(it == 10);
  }
  SECTION("room for no line at all") {
    std::string buffer(20, 'x');
    std::size_t size = buffer.size();
    CUlogIterator it = 0;
    CHECK(log.DumpToMemory(&it, buffer.data(), &size, 0) == CUDA_ERROR_INVALID_VALUE);
    CHECK(size == 0);
    CHECK(it == 0);
  }
  SECTION("exactly the room needed, the terminator included") {
    std::string buffer(all.size() + 1, 'x');
    std::size_t size = buffer.size();
    REQUIRE(log.DumpToMemory(nullptr, buffer.data(), &size, 0) == CUDA_SUCCESS);
    CHECK(size == all.size());
    CHECK(Count(std::string(buffer.data(), size), "message number") == 10);
  }
}

TEST_CASE("driver log: keeps the last 25600 bytes and says what was overwritten") {
  DriverLog log;
  const std::string filler(200, 'f');
  for (int i = 0; i < 300; ++i) log.Add(LogLevel::kWarn, std::to_string(i) + " " + filler);
  const std::string all = Dump(log, nullptr, 64 * 1024);
  const int kept = Count(all, filler);
  CHECK(kept < 300);
  CHECK(kept > 100);
  CHECK(all.find(std::to_string(300 - kept) + " earlier log messages left out: overwritten") <
        all.find('\n'));
  CHECK(all.find(" 299 " + filler) != std::string::npos);
  CHECK(all.size() <= DriverLog::kCapacity + 200);  // the kept lines and the note
  CUlogIterator recent = 295;                       // still kept: no note
  const std::string tail = Dump(log, &recent);
  CHECK(Count(tail, filler) == 5);
  CHECK(tail.find("left out") == std::string::npos);
  // Overwritten and too small at once: the newest lines that fit, behind one note naming both.
  CUlogIterator from_start = 0;
  char small[600];
  std::size_t size = sizeof small;
  REQUIRE(log.DumpToMemory(&from_start, small, &size, 0) == CUDA_SUCCESS);
  const std::string newest(small, size);
  CHECK(newest.find("earlier log messages left out: overwritten, or the buffer is too small") <
        newest.find('\n'));
  CHECK(Count(newest, filler) == 2);
  CHECK(newest.find(" 299 " + filler) != std::string::npos);
  log.Add(LogLevel::kWarn, std::string(5000, 'l'));
  CHECK(Dump(log, &recent).size() < DriverLog::kMaxMessage + 100);  // long messages are cut
}

TEST_CASE("driver log: dump to a file, from an iterator") {
  DriverLog log;
  testing::TempDir dir;
  log.Add(LogLevel::kError, "before");
  CUlogIterator it = 0;
  REQUIRE(log.Current(&it, 0) == CUDA_SUCCESS);
  log.Add(LogLevel::kError, "after");
  REQUIRE(log.DumpToFile(&it, dir.File("log.txt").c_str(), 0) == CUDA_SUCCESS);
  CHECK(it == 2);
  std::ifstream in(dir.File("log.txt"));
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find("before") == std::string::npos);
  CHECK(text.str().find("[gpupool][E] after\n") != std::string::npos);
  REQUIRE(log.DumpToFile(nullptr, dir.File("all.txt").c_str(), 0) == CUDA_SUCCESS);
  std::ifstream all(dir.File("all.txt"));
  std::stringstream both;
  both << all.rdbuf();
  CHECK(Count(both.str(), "\n") == 2);
}

TEST_CASE("driver log: callbacks get each line with its level until unregistered") {
  DriverLog log;
  Seen seen;
  CUlogsCallbackHandle handle = nullptr;
  REQUIRE(log.Register(&Remember, &seen, &handle) == CUDA_SUCCESS);
  REQUIRE(handle != nullptr);
  log.Add(LogLevel::kError, "an error");
  log.Add(LogLevel::kWarn, "a warning");
  REQUIRE(seen.messages.size() == 2);
  CHECK(seen.messages[0].find("[gpupool][E] an error") != std::string::npos);
  CHECK(seen.messages[0].back() == 'r');  // no newline; length is the text's
  CHECK(seen.levels[0] == CU_LOG_LEVEL_ERROR);
  CHECK(seen.levels[1] == CU_LOG_LEVEL_WARNING);
  REQUIRE(log.Unregister(handle) == CUDA_SUCCESS);
  CHECK(log.Unregister(handle) == CUDA_ERROR_INVALID_VALUE);  // twice
  log.Add(LogLevel::kError, "unheard");
  CHECK(seen.messages.size() == 2);
  CHECK(log.Register(&Remember, &seen, nullptr) == CUDA_SUCCESS);  // the handle is optional
  log.Add(LogLevel::kError, "heard");
  CHECK(seen.messages.size() == 3);
}

struct Nested {
  DriverLog* log = nullptr;
  Seen inner;
  int outer_calls = 0;
  CUlogsCallbackHandle registered = nullptr;
};

void RegisterAnother(void* data, CUlogLevel, char*, std::size_t) {
  auto* nested = static_cast<Nested*>(data);
  ++nested->outer_calls;
  if (nested->registered == nullptr) {
    REQUIRE(nested->log->Register(&Remember, &nested->inner, &nested->registered) == CUDA_SUCCESS);
    nested->log->Add(LogLevel::kWarn, "logged inside a callback");  // kept, not delivered here
  }
}

TEST_CASE("driver log: a callback may register another and log without deadlock or recursion") {
  DriverLog log;
  Nested nested;
  nested.log = &log;
  REQUIRE(log.Register(&RegisterAnother, &nested, nullptr) == CUDA_SUCCESS);
  log.Add(LogLevel::kError, "one");
  CHECK(nested.outer_calls == 1);
  CHECK(nested.inner.messages.empty());  // registered during delivery: from the next line on
  log.Add(LogLevel::kError, "two");
  CHECK(nested.outer_calls == 2);
  REQUIRE(nested.inner.messages.size() == 1);
  CHECK(nested.inner.messages[0].find("two") != std::string::npos);
  CHECK(Dump(log, nullptr).find("logged inside a callback") != std::string::npos);
}

TEST_CASE("driver log: threads log and register concurrently") {
  DriverLog log;
  std::atomic<int> delivered{0};
  auto count = [](void* data, CUlogLevel, char*, std::size_t) {
    static_cast<std::atomic<int>*>(data)->fetch_add(1);
  };
  REQUIRE(log.Register(count, &delivered, nullptr) == CUDA_SUCCESS);
  // Each thread's counter outlives every thread: another thread's Add may still be calling a callback
  // after its Unregister returned (driver_log.h). Catch2 assertions stay on this thread.
  std::array<std::atomic<int>, 4> heard{};
  std::atomic<int> failed_calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        CUlogsCallbackHandle h = nullptr;
        if (log.Register(count, &heard[t], &h) != CUDA_SUCCESS) failed_calls.fetch_add(1);
        log.Add(LogLevel::kWarn, "thread " + std::to_string(t));
        if (log.Unregister(h) != CUDA_SUCCESS) failed_calls.fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(failed_calls.load() == 0);
  CHECK(delivered.load() == 800);
  for (const auto& h : heard) CHECK(h.load() >= 200);  // its own lines, at least, while registered
  CUlogIterator end = 0;
  REQUIRE(log.Current(&end, 0) == CUDA_SUCCESS);
  CHECK(end == 800);
}

DriverLog* g_observed = nullptr;

void ObserveInto(LogLevel level, std::string_view message) {
  g_observed->Add(level, message);
}

TEST_CASE("driver log: the client's warnings and errors reach it whatever the stderr level") {
  DriverLog log;
  g_observed = &log;
  const LogLevel before = CurrentLogLevel();
  SetLogLevel(LogLevel::kError);  // warnings no longer go to stderr, but still to the observer
  SetLogObserver(&ObserveInto);
  GPUPOOL_LOG(kWarn) << "cuFoo is not supported by gpupool";
  GPUPOOL_LOG(kError) << "connection lost";
  GPUPOOL_LOG(kInfo) << "not for the driver log";
  SetLogObserver(nullptr);
  SetLogLevel(before);
  GPUPOOL_LOG(kError) << "after the observer was cleared";
  const std::string all = Dump(log, nullptr);
  CHECK(Count(all, "\n") == 2);
  CHECK(all.find("[gpupool][W] cuFoo is not supported by gpupool\n") != std::string::npos);
  CHECK(all.find("[gpupool][E] connection lost\n") != std::string::npos);
}

// A child inherits the log's locks as they were at the fork: one held by a thread that is logging
// then would never be released in the child (common/fork_safe.h). Each child here logs through both
// logs at once; a child that blocks is ended by its alarm, which fails the test.
// Hidden ("[.]", not registered with ctest) in the sanitizer build: GCC 12's AddressSanitizer
// allocator keeps a lock of its own that fork() does not hold, so there a child of a threaded process
// can block in malloc whatever gpupool does (seen with gdb). tests/remoting/client/CMakeLists.txt
// registers it as skipped there; the normal build runs it.
#if defined(__SANITIZE_ADDRESS__)
#define GPUPOOL_FORK_STRESS_TAGS "[.]"
#else
#define GPUPOOL_FORK_STRESS_TAGS ""
#endif
TEST_CASE("driver log: a child forked while other threads log can log at once", GPUPOOL_FORK_STRESS_TAGS) {
  const LogLevel before = CurrentLogLevel();
  SetLogLevel(LogLevel::kError);  // the busy threads' lines go to the driver log only
  DriverLog::Install();
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 2; ++t)
    busy.emplace_back([&stop, t] {
      for (int n = 0; !stop.load(); ++n) {
        GPUPOOL_LOG(kWarn) << "busy thread " << t << " line " << n;
        (void)FirstTimeFor("busy " + std::to_string(n % 64));
      }
    });
  int children_ok = 0;
  constexpr int kForks = 200;
  for (int i = 0; i < kForks; ++i) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::alarm(10);
      GPUPOOL_LOG(kWarn) << "child " << i;
      CUlogIterator it = 0;
      const bool fine =
          FirstTimeFor("child") && DriverLog::Process().Current(&it, 0) == CUDA_SUCCESS && it > 0;
      ::_exit(fine ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      UNSCOPED_INFO("child " << i << " ended with wait status " << status);
      break;
    }
    ++children_ok;
  }
  stop.store(true);
  for (std::thread& thread : busy) thread.join();
  SetLogObserver(nullptr);
  SetLogLevel(before);
  CHECK(children_ok == kForks);
}

}  // namespace
}  // namespace gpupool::client
