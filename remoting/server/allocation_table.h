// AllocationTable: the device memory a session may touch — its own allocations, module globals it
// looked up (borrowed: not freed by MemFree, not counted against its memory limit), the mappings of
// its physical allocations into its reserved address ranges (virtual_memory.h; counted there), the
// allocations of other sessions it opened by an interprocess handle (counted in theirs) and the host
// memory it registered for its GPUs in its mapped arena (mapped_arena.h: host memory, counted there).
// Every device pointer a request carries is checked here before the backend sees it: the range
// [ptr, ptr + size) must lie inside one entry, with no overflow — or, as on a GPU, run on through
// mappings that follow each other without a gap.
//
// Thread-safety: none; a session worker is single-threaded.
#pragma once

#include <cstdint>
#include <map>

#include "remoting/server/device_bytes.h"

namespace gpupool::server {

class AllocationTable {
 public:
  enum class Kind : std::uint8_t {
    kOwned,       // cuMemAlloc and friends: freed by MemFree, counted in owned_bytes()
    kBorrowed,    // a module global: goes with its module
    kMapped,      // a cuMemMap mapping: goes with MemUnmap
    kImported,    // another session's allocation (IpcOpenMemHandle): goes with IpcCloseMemHandle
    kHostMapped,  // pinned host memory of the mapped arena: goes with MemHostUnregisterMapped
  };
  struct Entry {
    std::uint64_t size = 0;
    Kind kind = Kind::kOwned;
    int device = 0;  // the device ordinal it was allocated on (owned entries)
  };

  void Add(std::uint64_t base, std::uint64_t size, Kind kind, int device = 0);
  // Removes an owned allocation starting exactly at `base`; false when there is none.
  bool RemoveOwned(std::uint64_t base, std::uint64_t* size);
  // Drops the borrowed ranges inside [base, base + size) (their module was unloaded).
  void RemoveBorrowedIn(std::uint64_t base, std::uint64_t size);
  // Drops the entry of kind `kind` (a mapping or an import) starting exactly at `base`; false when
  // there is none.
  bool Remove(std::uint64_t base, Kind kind);
  // The kind of the entry starting exactly at `base`, when there is one.
  bool KindAt(std::uint64_t base, Kind* kind) const;
  // True when [ptr, ptr + size) lies within one entry, or within adjacent mappings. size 0 still
  // needs ptr inside an entry.
  bool Contains(std::uint64_t ptr, std::uint64_t size) const;
  // The entry containing ptr: its base and size.
  bool Find(std::uint64_t ptr, std::uint64_t* base, std::uint64_t* size) const;
  // Whether ptr lies in host memory of the mapped arena (a kHostMapped entry).
  bool HostMapped(std::uint64_t ptr) const;

  std::uint64_t owned_bytes() const { return owned_.total(); }
  const DeviceBytes& owned() const { return owned_; }  // owned bytes per device
  const std::map<std::uint64_t, Entry>& entries() const { return entries_; }

 private:
  // The entry holding `ptr`, or entries_.end().
  std::map<std::uint64_t, Entry>::const_iterator Holding(std::uint64_t ptr) const;

  std::map<std::uint64_t, Entry> entries_;
  DeviceBytes owned_;
};

}  // namespace gpupool::server
