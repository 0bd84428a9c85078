// Lookups in an ordered map of disjoint address ranges (start -> entry), the shape of every table of
// device or host memory: allocations, reservations, mappings, registered host memory. `size_of(entry)`
// is an entry's length; a range holds [start, start + length).
//
// Thread-safety: as the map's.
#pragma once

#include <iterator>
#include <optional>
#include <utility>

namespace gpupool {

// The entry whose range holds `address`, or ranges.end().
template <typename Map, typename SizeOf>
auto RangeHolding(Map& ranges, typename Map::key_type address, SizeOf size_of) -> decltype(ranges.end()) {
  auto it = ranges.upper_bound(address);
  if (it == ranges.begin()) return ranges.end();
  --it;
  return address - it->first < size_of(it->second) ? it : ranges.end();
}

// Whether [address, address + size) overlaps an entry (the caller has checked that the sum does not
// overflow).
template <typename Map, typename Size, typename SizeOf>
bool Overlaps(const Map& ranges, typename Map::key_type address, Size size, SizeOf size_of) {
  auto it = ranges.lower_bound(address + size);  // the first range starting at or after the end
  if (it == ranges.begin()) return false;
  --it;
  return it->first + size_of(it->second) > address;
}

// Adds the free range [offset, offset + size) to `free` (start -> length, disjoint), merged with the
// free ranges it touches on either side, so that the map stays coalesced.
template <typename Map>
void InsertCoalesced(Map& free, typename Map::key_type offset, typename Map::mapped_type size) {
  auto next = free.lower_bound(offset);
  if (next != free.end() && offset + size == next->first) {
    size += next->second;
    next = free.erase(next);
  }
  if (next != free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      prev->second += size;
      return;
    }
  }
  free.emplace(offset, size);
}

// The entries [first, last) that make up [address, address + size) exactly: the first starts at
// `address`, each next one where the one before ends, the last ends at address + size. Nothing when
// `size` is 0, a range is missing or the span would cut one.
template <typename Map, typename SizeOf>
auto WholeRanges(Map& ranges, typename Map::key_type address, typename Map::key_type size, SizeOf size_of)
    -> std::optional<std::pair<decltype(ranges.end()), decltype(ranges.end())>> {
  if (size == 0) return std::nullopt;
  auto first = ranges.find(address);
  auto it = first;
  for (auto left = size; left > 0; ++it) {
    if (it == ranges.end() || it->first != address + (size - left) || size_of(it->second) > left)
      return std::nullopt;
    left -= size_of(it->second);
  }
  return std::make_pair(first, it);
}

}  // namespace gpupool
