#include "remoting/server/allocation_table.h"

#include <algorithm>

#include "common/address_ranges.h"

namespace gpupool::server {

void AllocationTable::Add(std::uint64_t base, std::uint64_t size, Kind kind, int device) {
  if (kind == Kind::kOwned) owned_.Add(device, size);
  entries_[base] = Entry{size, kind, device};
}

bool AllocationTable::RemoveOwned(std::uint64_t base, std::uint64_t* size) {
  auto it = entries_.find(base);
  if (it == entries_.end() || it->second.kind != Kind::kOwned) return false;
  *size = it->second.size;
  owned_.Remove(it->second.device, it->second.size);
  entries_.erase(it);
  return true;
}

void AllocationTable::RemoveBorrowedIn(std::uint64_t base, std::uint64_t size) {
  for (auto it = entries_.lower_bound(base); it != entries_.end() && it->first - base < size;) {
    it = it->second.kind == Kind::kBorrowed ? entries_.erase(it) : std::next(it);
  }
}

bool AllocationTable::Remove(std::uint64_t base, Kind kind) {
  auto it = entries_.find(base);
  if (it == entries_.end() || it->second.kind != kind || kind == Kind::kOwned) return false;
  entries_.erase(it);
  return true;
}

bool AllocationTable::KindAt(std::uint64_t base, Kind* kind) const {
  auto it = entries_.find(base);
  if (it == entries_.end()) return false;
  *kind = it->second.kind;
  return true;
}

std::map<std::uint64_t, AllocationTable::Entry>::const_iterator AllocationTable::Holding(
    std::uint64_t ptr) const {
  // An entry of 0 bytes (a module's empty global) still holds its own address.
  return RangeHolding(entries_, ptr, [](const Entry& e) { return std::max<std::uint64_t>(e.size, 1); });
}

bool AllocationTable::Find(std::uint64_t ptr, std::uint64_t* base, std::uint64_t* size) const {
  auto it = Holding(ptr);
  if (it == entries_.end()) return false;
  *base = it->first;
  *size = it->second.size;
  return true;
}

bool AllocationTable::HostMapped(std::uint64_t ptr) const {
  auto it = Holding(ptr);
  return it != entries_.end() && it->second.kind == Kind::kHostMapped;
}

bool AllocationTable::Contains(std::uint64_t ptr, std::uint64_t size) const {
  std::uint64_t base = 0, length = 0;
  if (!Find(ptr, &base, &length)) return false;
  std::uint64_t offset = ptr - base;         // < length: Find checked it
  if (size <= length - offset) return true;  // no overflow: both sides are within [0, length]
  // Past this entry's end: only a mapping may continue into the mapping that starts where it ends.
  std::uint64_t left = size - (length - offset);
  for (auto it = entries_.find(base); it->second.kind == Kind::kMapped;) {
    const std::uint64_t end = it->first + it->second.size;
    it = entries_.find(end);
    if (it == entries_.end() || it->second.kind != Kind::kMapped) return false;
    if (left <= it->second.size) return true;
    left -= it->second.size;
  }
  return false;
}

}  // namespace gpupool::server
