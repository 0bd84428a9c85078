// common/log.h's pieces that do not need a process of their own.
#include "common/log.h"

#include <catch2/catch.hpp>
#include <chrono>

namespace gpupool {
namespace {

using std::chrono::system_clock;

TEST_CASE("log: the UTC time of day is computed without the C library's time zone lock") {
  // 2026-12-07 13:04:05.678901 UTC.
  const system_clock::time_point when{std::chrono::microseconds(1796648645678901LL)};
  CHECK(UtcTimeOfDay(when, 6) == "13:04:05.678901");
  CHECK(UtcTimeOfDay(when, 3) == "13:04:05.678");
  CHECK(UtcTimeOfDay(when, 0) == "13:04:05");
  CHECK(UtcTimeOfDay(when, 9) == "13:04:05.678901");  // at most microseconds
  CHECK(UtcTimeOfDay(system_clock::time_point{}, 3) == "00:00:00.000");
  CHECK(UtcTimeOfDay(system_clock::time_point{std::chrono::seconds(86399)}, 0) == "23:59:59");
}

}  // namespace
}  // namespace gpupool
