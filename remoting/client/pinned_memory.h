// Pinned ("page-locked") host memory on the client. The GPU is on another machine, so pinning
// buys nothing here: cuMemHostAlloc/cuMemAllocHost return plain page-aligned host memory and
// cuMemHostRegister only records the range. The registry answers cuMemHostGetFlags,
// cuPointerGetAttribute and double-registration checks.
//
// Thread-safety: all methods lock; safe from any thread.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <map>
#include <mutex>

namespace gpupool::client {

class PinnedMemory {
 public:
  // cuMemHostAlloc: page-aligned, zero-filled (fresh anonymous pages, as the driver's are).
  CUresult Allocate(std::size_t bytes, unsigned flags, void** out);
  // cuMemFreeHost: only pointers Allocate returned.
  CUresult Free(void* ptr);
  // cuMemHostRegister / cuMemHostUnregister.
  CUresult Register(void* ptr, std::size_t bytes, unsigned flags);
  CUresult Unregister(void* ptr);
  // The flags of the range containing `ptr`; false when it is not pinned.
  bool Find(const void* ptr, unsigned* flags) const;
  // Whether [ptr, ptr + bytes) lies inside one pinned range (a deferred copy may land there).
  bool Covers(const void* ptr, std::size_t bytes) const;

 private:
  struct Range {
    std::size_t bytes;
    unsigned flags;
    bool owned;  // allocated here (Free) rather than registered (Unregister)
  };
  bool OverlapsLocked(const void* ptr, std::size_t bytes) const;
  // The range holding `ptr`, or null.
  const std::pair<const char* const, Range>* FindLocked(const void* ptr) const;

  mutable std::mutex mu_;
  std::map<const char*, Range> ranges_;
};

}  // namespace gpupool::client
