// Pinned ("page-locked") host memory on the client. With a worker on this host, cuMemHostAlloc
// carves it from the mapped arena (mapped_arena.h), registered there for the GPUs (api_pinned.cpp):
// such ranges are "mapped" and a kernel may use them. Otherwise the GPU is on another machine and
// pinning buys nothing: Allocate returns plain page-aligned host memory, and cuMemHostRegister only
// records the range. The registry answers cuMemHostGetFlags, cuMemHostGetDevicePointer,
// cuPointerGetAttribute and double-registration checks.
//
// Thread-safety: all methods lock; safe from any thread.
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>

namespace gpupool::client {

class PinnedMemory {
 public:
  // cuMemHostAlloc's checks of its arguments.
  static CUresult CheckAllocation(std::size_t bytes, unsigned flags, void** out);
  // cuMemHostAlloc: page-aligned, zero-filled (fresh anonymous pages, as the driver's are).
  CUresult Allocate(std::size_t bytes, unsigned flags, void** out);
  // Records an allocation from the mapped arena: `bytes` asked for, `rounded` taken.
  void AddMapped(void* ptr, std::size_t bytes, std::size_t rounded, unsigned flags);
  // cuMemFreeHost: only pointers Allocate or AddMapped gave. An arena allocation's pages stay: *mapped
  // (when given) is then the bytes it takes in the arena, for the caller to give back; else 0.
  CUresult Free(void* ptr, std::size_t* mapped = nullptr);
  // cuMemHostRegister / cuMemHostUnregister.
  CUresult Register(void* ptr, std::size_t bytes, unsigned flags);
  CUresult Unregister(void* ptr);
  // The flags of the range containing `ptr`, and whether the GPUs reach it (an arena allocation);
  // false when it is not pinned.
  bool Find(const void* ptr, unsigned* flags, bool* mapped = nullptr) const;
  // Whether [ptr, ptr + bytes) lies inside one pinned range (a deferred copy may land there), and
  // inside one the GPUs reach (an arena allocation: a copy may go as device memory).
  bool Covers(const void* ptr, std::size_t bytes) const;
  bool CoversMapped(const void* ptr, std::size_t bytes) const;

 private:
  struct Range {
    std::size_t bytes;
    unsigned flags;
    bool owned;              // allocated here (Free) rather than registered (Unregister)
    std::size_t mapped = 0;  // an arena allocation: the bytes it takes there; 0 for none
  };
  // The range holding all of [ptr, ptr + bytes), or null.
  const std::pair<const char* const, Range>* CoveringLocked(const void* ptr, std::size_t bytes) const;
  // The range holding `ptr`, or null.
  const std::pair<const char* const, Range>* FindLocked(const void* ptr) const;

  mutable std::mutex mu_;
  std::map<const char*, Range> ranges_;
  std::atomic<std::size_t> mapped_count_{0};  // arena allocations among ranges_, readable without mu_
};

}  // namespace gpupool::client
