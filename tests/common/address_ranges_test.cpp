// The range-map lookups every memory table shares: the range holding an address, and the ranges that
// make up a span exactly.
#include "common/address_ranges.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>

namespace gpupool {
namespace {

std::uint64_t Bytes(std::uint64_t size) {
  return size;
}

TEST_CASE("address ranges: the range holding an address") {
  const std::map<std::uint64_t, std::uint64_t> ranges = {{0x1000, 0x100}, {0x1100, 0x80}, {0x2000, 0x10}};
  CHECK(RangeHolding(ranges, 0x0fff, Bytes) == ranges.end());
  CHECK(RangeHolding(ranges, 0x1000, Bytes)->first == 0x1000);
  CHECK(RangeHolding(ranges, 0x10ff, Bytes)->first == 0x1000);
  CHECK(RangeHolding(ranges, 0x1100, Bytes)->first == 0x1100);
  CHECK(RangeHolding(ranges, 0x1180, Bytes) == ranges.end());  // the gap after it
  CHECK(RangeHolding(ranges, 0x200f, Bytes)->first == 0x2000);
  CHECK(RangeHolding(ranges, UINT64_MAX, Bytes) == ranges.end());
}

TEST_CASE("address ranges: the ranges that make up a span exactly") {
  const std::map<std::uint64_t, std::uint64_t> ranges = {
      {0x1000, 0x100}, {0x1100, 0x100}, {0x1200, 0x100}, {0x2000, 0x100}};
  auto whole = WholeRanges(ranges, 0x1000, 0x300, Bytes);
  REQUIRE(whole);
  CHECK(whole->first->first == 0x1000);
  CHECK(whole->second->first == 0x2000);  // one past the last
  CHECK(WholeRanges(ranges, 0x1100, 0x100, Bytes));
  CHECK_FALSE(WholeRanges(ranges, 0x1000, 0x180, Bytes));  // cuts the second range
  CHECK_FALSE(WholeRanges(ranges, 0x1080, 0x100, Bytes));  // starts inside a range
  CHECK_FALSE(WholeRanges(ranges, 0x1000, 0x400, Bytes));  // runs past the last adjacent one
  CHECK_FALSE(WholeRanges(ranges, 0x1200, 0xf00, Bytes));  // across the gap
  CHECK_FALSE(WholeRanges(ranges, 0x1000, 0, Bytes));      // nothing
  CHECK_FALSE(WholeRanges(ranges, 0x3000, 0x100, Bytes));  // no range there
}

}  // namespace
}  // namespace gpupool
