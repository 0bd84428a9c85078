// VirtualMemory: a session's virtual memory management objects, as the worker tracks them — physical
// allocations (cuMemCreate) under session-local handle ids with their reference counts, address
// reservations (cuMemAddressReserve) and mappings (cuMemMap). Bookkeeping only: the handlers call the
// driver and record what succeeded; the checks here keep a request inside what the session owns
// (its own reservations, its own handles) before the driver sees it. Mapped ranges also enter the
// session's AllocationTable, which checks every other call's pointers.
//
// A physical allocation lives, as in the driver, until its last reference is released and its last
// mapping is gone; its handle id answers only while references remain.
//
// Thread-safety: none; a session worker is single-threaded.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <vector>

#include "remoting/server/device_bytes.h"

namespace gpupool::server {

class VirtualMemory {
 public:
  struct Physical {
    CUmemGenericAllocationHandle handle = 0;  // the driver's
    std::uint64_t size = 0;
    int device = 0;
    std::uint32_t requested_types = 0;  // CUmemAllocationHandleType bits the program asked for
    std::uint64_t references = 1;
    std::uint64_t mappings = 0;
    bool imported = false;  // another session's memory (MemImportFromShareableHandle): not charged here
  };
  struct Mapping {
    std::uint64_t size = 0;
    std::uint64_t physical = 0;  // handle id
  };

  void AddPhysical(std::uint64_t id, const Physical& physical);
  // A handle the session still holds a reference to, or null.
  const Physical* Handle(std::uint64_t id) const;
  // Drops one reference; true when that freed the allocation (no references, no mappings left).
  bool Release(std::uint64_t id);
  // References one handle may hold. A program retains a handle a few times; a client retaining it
  // without end would make its session's teardown release it as often, one driver call each.
  static constexpr std::uint64_t kMaxReferences = 4096;

  // The handle id of the mapping containing `ptr`, with one more reference; false when none.
  bool Retain(std::uint64_t ptr, std::uint64_t* id);

  void AddReservation(std::uint64_t base, std::uint64_t size) { reservations_[base] = size; }
  bool IsReservation(std::uint64_t base, std::uint64_t size) const;
  void RemoveReservation(std::uint64_t base) { reservations_.erase(base); }
  // True when [ptr, ptr + size) lies in one reservation and overlaps no mapping.
  bool CanMap(std::uint64_t ptr, std::uint64_t size) const;
  void AddMapping(std::uint64_t ptr, std::uint64_t size, std::uint64_t id);
  // The mappings that make up [ptr, ptr + size) exactly, in order; false when the range has a gap
  // or cuts a mapping.
  bool WholeMappings(std::uint64_t ptr, std::uint64_t size, std::vector<std::uint64_t>* bases) const;
  // The mappings inside [base, base + size).
  std::vector<std::uint64_t> MappingsIn(std::uint64_t base, std::uint64_t size) const;
  // Forgets a mapping; true when that freed its physical allocation.
  bool RemoveMapping(std::uint64_t base);
  // The mapping containing `ptr`, or null.
  const Mapping* MappingAt(std::uint64_t ptr) const;

  // Bytes of the session's own physical allocations still alive (its memory limit counts them),
  // in total and per device.
  std::uint64_t physical_bytes() const { return physical_bytes_.total(); }
  const DeviceBytes& physical() const { return physical_bytes_; }
  const std::map<std::uint64_t, Physical>& physicals() const { return physicals_; }
  const std::map<std::uint64_t, std::uint64_t>& reservations() const { return reservations_; }
  const std::map<std::uint64_t, Mapping>& mappings() const { return mappings_; }

 private:
  // Frees the bookkeeping of a physical allocation nothing refers to any more.
  bool ForgetIfUnused(std::map<std::uint64_t, Physical>::iterator it);

  std::map<std::uint64_t, Physical> physicals_;          // by handle id, while alive
  std::map<std::uint64_t, std::uint64_t> reservations_;  // base -> size
  std::map<std::uint64_t, Mapping> mappings_;            // base -> mapping
  DeviceBytes physical_bytes_;
};

}  // namespace gpupool::server
