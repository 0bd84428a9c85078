// Graph memory: the allocations of memory alloc nodes (cuGraphAddMemAllocNode, or cuMemAllocAsync
// during stream capture). CUDA fixes such an allocation's address when the node is created and
// keeps it for the graph's lifetime; a launch reaching the alloc node makes it allocated, a free
// node (or the program's cuMemFree / cuMemFreeAsync) frees it, and a graph whose allocation is
// still allocated cannot be launched again (CUDA_ERROR_INVALID_VALUE) unless it was instantiated
// with AUTO_FREE_ON_LAUNCH.
//
// gpupool makes each allocation a server allocation (cuMemAlloc on the server, so the session's
// bounds and memory share apply) when the node is created, and gives it back when no graph node or
// instantiated graph refers to it any more and it is not allocated. Between launches the memory
// stays reserved (CUDA would return it to the device's graph pool): the device's graph memory
// attributes count it, and cuDeviceGraphMemTrim has nothing cached to give back.
//
// Thread-safety: safe from any thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace gpupool::client {

// Keeps a graph allocation's memory while graph nodes refer to it (shared by copies of the node).
struct GraphAllocHold {
  CUdeviceptr ptr = 0;
  ~GraphAllocHold();
};

class GraphMemory {
 public:
  static GraphMemory& Get();

  // A new allocation of `bytes` on `device` (server context `context`), not yet allocated.
  CUresult Allocate(std::uint64_t context, int device, std::uint64_t bytes, CUdeviceptr* ptr,
                    std::shared_ptr<const GraphAllocHold>* hold);
  bool Contains(CUdeviceptr ptr) const;
  // Whether a launch left `ptr` allocated.
  bool Allocated(CUdeviceptr ptr) const;
  // A launch reached its alloc node.
  void MarkAllocated(CUdeviceptr ptr);
  // A free node, cuMemFree or cuMemFreeAsync. False when `ptr` is not an allocated graph allocation.
  bool MarkFreed(CUdeviceptr ptr);

  // cuDeviceGetGraphMemAttribute / cuDeviceSetGraphMemAttribute (only the high watermarks can be
  // set, and only to 0).
  CUresult GetAttribute(int device, CUgraphMem_attribute attribute, std::uint64_t* value) const;
  CUresult SetAttribute(int device, CUgraphMem_attribute attribute, std::uint64_t value);

 private:
  friend struct GraphAllocHold;
  struct Entry {
    std::uint64_t context = 0;
    int device = 0;
    std::uint64_t bytes = 0;
    bool allocated = false;  // a launch allocated it and nothing freed it yet
    bool held = true;        // graph nodes or instantiated graphs refer to it
  };
  struct Totals {
    std::uint64_t current = 0, used_high = 0, reserved_high = 0;
  };
  void Drop(CUdeviceptr ptr);
  // Gives the allocation back to the server when nothing needs it; called with mu_ held, unlocks it.
  void ReleaseIfUnused(std::unique_lock<std::mutex>& lock, CUdeviceptr ptr);

  mutable std::mutex mu_;
  std::map<CUdeviceptr, Entry> entries_;
  std::map<int, Totals> totals_;
};

}  // namespace gpupool::client
