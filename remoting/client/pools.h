// Pools: the process's memory pools (mem_pool.h) and the round trips behind them: new blocks with
// the server's cuMemAlloc, frees recorded as server events on their stream, blocks released with
// cuMemFree. Each device has a default pool (created on first use) and a current pool.
//
// Why on the client and not the server's own pools: the server allocates on behalf of the session
// and counts every block against its memory share (ARCHITECTURE §3.2), a pool block reused here
// costs no round trip (cuMemAllocAsync is otherwise a synchronous call on the wire), and stream
// order, including streams held behind host functions (stream_order.h), is known only here.
//
// Thread-safety: safe from any thread. Pool objects live for the process (destroyed pools are
// retired, so a stale handle is an error and blocks still in use can be freed).
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "remoting/client/mem_pool.h"

namespace gpupool::client {

class Pools {
 public:
  static Pools& Get();

  MemPool* Default(int device);
  MemPool* Current(int device);
  void SetCurrent(int device, MemPool* pool);
  MemPool* Create(int device, std::uint64_t max_size);
  // A live pool or null.
  MemPool* Find(const void* handle);
  // cuMemPoolDestroy: the handle ends at once; the pool's blocks go back as their frees complete.
  CUresult Destroy(const void* handle);

  // cuMemAllocAsync / cuMemAllocFromPoolAsync on `stream` (wire id `wire` of server context `context`).
  CUresult Allocate(MemPool* pool, std::uint64_t bytes, CUstream stream, std::uint64_t context,
                    std::uint64_t wire, CUdeviceptr* ptr);
  // cuMemFreeAsync. CUDA_ERROR_INVALID_VALUE when `ptr` is not pool memory in use.
  CUresult FreeAsync(CUdeviceptr ptr, CUstream stream, std::uint64_t context, std::uint64_t wire);
  // cuMemFree on a pool block in use: it leaves its pool (the caller frees it on the server).
  bool Forget(CUdeviceptr ptr);
  // Whether the allocation starting at `base` is a pool block (in use or free).
  bool IsBlock(CUdeviceptr base);
  // The pool whose block starts at `base`, or null.
  MemPool* PoolOf(CUdeviceptr base);

  // Orders frees against synchronisations: read it before draining and synchronising, then pass
  // it to AfterSync, which marks the frees before it on `stream` (every stream of `context` when
  // null) complete and gives back what the pools hold beyond their release thresholds.
  std::uint64_t FreeSeq() const { return seq_.load(std::memory_order_acquire); }
  void AfterSync(std::uint64_t context, const StreamKey* stream, std::uint64_t seq);
  // The device's primary context was reset or released for the last time: its memory is gone on
  // the server, so every pool of the device forgets its blocks.
  void ForgetDevice(int device);
  // cuMemPoolTrimTo.
  CUresult TrimTo(MemPool* pool, std::uint64_t keep);

 private:
  void Release(const std::vector<MemPool::Released>& blocks);

  std::mutex mu_;
  std::vector<std::unique_ptr<MemPool>> all_;  // guarded by mu_; never shrinks
  std::set<const void*> live_;                 // guarded by mu_
  std::map<int, MemPool*> default_, current_;  // guarded by mu_
  std::map<CUdeviceptr, MemPool*> blocks_;     // guarded by mu_: every pool block, in use or free
  std::atomic<std::uint64_t> seq_{1};
  std::atomic<bool> maybe_free_{false};  // some pool may hold free blocks
};

}  // namespace gpupool::client
