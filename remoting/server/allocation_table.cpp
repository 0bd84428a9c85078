#include "remoting/server/allocation_table.h"

namespace gpupool::server {

void AllocationTable::Add(std::uint64_t base, std::uint64_t size, bool owned) {
  if (owned) owned_bytes_ += size;
  entries_[base] = Entry{size, owned};
}

bool AllocationTable::RemoveOwned(std::uint64_t base, std::uint64_t* size) {
  auto it = entries_.find(base);
  if (it == entries_.end() || !it->second.owned) return false;
  *size = it->second.size;
  owned_bytes_ -= it->second.size;
  entries_.erase(it);
  return true;
}

void AllocationTable::RemoveBorrowedIn(std::uint64_t base, std::uint64_t size) {
  for (auto it = entries_.lower_bound(base); it != entries_.end() && it->first - base < size;) {
    it = it->second.owned ? std::next(it) : entries_.erase(it);
  }
}

bool AllocationTable::Find(std::uint64_t ptr, std::uint64_t* base, std::uint64_t* size) const {
  auto it = entries_.upper_bound(ptr);
  if (it == entries_.begin()) return false;
  --it;
  std::uint64_t offset = ptr - it->first;
  if (offset >= it->second.size && !(offset == 0 && it->second.size == 0)) return false;
  *base = it->first;
  *size = it->second.size;
  return true;
}

bool AllocationTable::Contains(std::uint64_t ptr, std::uint64_t size) const {
  std::uint64_t base = 0, length = 0;
  if (!Find(ptr, &base, &length)) return false;
  std::uint64_t offset = ptr - base;  // < length: Find checked it
  return size <= length - offset;     // no overflow: both sides are within [0, length]
}

}  // namespace gpupool::server
