// AllocationTable: the device memory a session may touch — its own allocations, plus module globals
// it looked up (borrowed: not freed by MemFree, not counted against its memory limit). Every device
// pointer a request carries is checked here before the backend sees it: the range [ptr, ptr + size)
// must lie inside one entry, with no overflow.
//
// Thread-safety: none; a session worker is single-threaded.
#pragma once

#include <cstdint>
#include <map>

namespace gpupool::server {

class AllocationTable {
 public:
  struct Entry {
    std::uint64_t size = 0;
    bool owned = true;  // false: a module global, borrowed from the module
  };

  void Add(std::uint64_t base, std::uint64_t size, bool owned);
  // Removes an owned allocation starting exactly at `base`; false when there is none.
  bool RemoveOwned(std::uint64_t base, std::uint64_t* size);
  // Drops the borrowed ranges inside [base, base + size) (their module was unloaded).
  void RemoveBorrowedIn(std::uint64_t base, std::uint64_t size);
  // True when [ptr, ptr + size) lies within one entry. size 0 still needs ptr inside an entry.
  bool Contains(std::uint64_t ptr, std::uint64_t size) const;
  // The entry containing ptr: its base and size.
  bool Find(std::uint64_t ptr, std::uint64_t* base, std::uint64_t* size) const;

  std::uint64_t owned_bytes() const { return owned_bytes_; }
  const std::map<std::uint64_t, Entry>& entries() const { return entries_; }

 private:
  std::map<std::uint64_t, Entry> entries_;
  std::uint64_t owned_bytes_ = 0;
};

}  // namespace gpupool::server
