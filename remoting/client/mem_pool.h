// MemPool: the bookkeeping of one CUmemoryPool, emulated on the client (remoting/client/README.md,
// "Stream-ordered allocation"). Blocks are whole server allocations (cuMemAlloc on the server, so
// the session's memory share holds); a block freed with cuMemFreeAsync stays in the pool and is
// handed out again without a round trip when stream order allows it:
//  - on the stream it was freed on (later work there runs after the free);
//  - on another stream once its free is known complete (REUSE_ALLOW_OPPORTUNISTIC);
//  - on another stream before that, if the caller makes the stream wait for the event recorded at
//    the free (REUSE_ALLOW_INTERNAL_DEPENDENCIES).
// Free blocks whose free is complete go back to the server when the pool holds more than its
// release threshold (after synchronisations: Trim) or on cuMemPoolTrimTo.
// This class decides; pools.h makes the round trips.
//
// Thread-safety: all methods lock.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "remoting/client/stream_order.h"

namespace gpupool::client {

class MemPool {
 public:
  MemPool(int device, std::uint64_t max_size) : device_(device), max_size_(max_size) {}

  int device() const { return device_; }

  // Sharing with other processes (api_ipc.cpp), fixed when the pool is made: a pool created with the
  // POSIX descriptor handle type exports its allocations; an imported pool only receives them.
  struct Sharing {
    bool exportable = false;
    bool imported = false;
    std::uint64_t id[2] = {0, 0};  // random; names the pool in the data its exports carry
  };
  Sharing sharing;
  // Whether `ptr` is the start of a block in use.
  bool InUse(CUdeviceptr ptr) const;

  // A block handed out again.
  struct Reuse {
    CUdeviceptr ptr = 0;
    std::uint64_t bytes = 0;          // the block's size (at least the request)
    std::uint64_t free_event = 0;     // the event recorded at its free (the caller recycles it)
    std::uint64_t event_context = 0;  // ... of this server context
    bool wait = false;                // the new stream must wait for free_event first
    StreamDep recorded;               // ... once the free's record has been sent (StreamOrder)
  };
  // A free block for `bytes` usable on `stream` (the smallest that fits, at most twice as large).
  bool TakeFree(std::uint64_t bytes, const StreamKey& stream, Reuse* out);
  // Whether a new block of `bytes` stays within the pool's maximum size.
  bool Fits(std::uint64_t bytes) const;
  // A new block from the server, in use.
  void AddUsed(CUdeviceptr ptr, std::uint64_t bytes);
  // cuMemFreeAsync: `ptr` becomes free in stream order; `event` is recorded on `stream` at the free,
  // `seq` orders frees (FreeSeq). False when `ptr` is not a block in use from this pool.
  bool Free(CUdeviceptr ptr, const StreamKey& stream, std::uint64_t event, std::uint64_t seq);
  // cuMemFree on a block in use: it leaves the pool (*bytes = its size).
  bool Forget(CUdeviceptr ptr, std::uint64_t* bytes);

  // Frees with seq below `below` on `stream` (all of its context's streams when null) completed.
  void MarkComplete(std::uint64_t context, const StreamKey* stream, std::uint64_t below);
  // The free's record is queued on the client behind a host function (StreamOrder ticket).
  void SetFreeTicket(CUdeviceptr ptr, std::uint64_t ticket);
  // Free blocks whose free is not known complete; MarkEventComplete for those done.
  struct PendingFree {
    std::uint64_t event = 0;
    StreamKey stream;
    std::uint64_t ticket = 0;  // 0: its record was sent
  };
  std::vector<PendingFree> PendingFrees() const;
  void MarkEventComplete(std::uint64_t event);

  // Removes complete free blocks, largest first, until the pool reserves at most `keep` bytes.
  struct Released {
    CUdeviceptr ptr = 0;
    std::uint64_t context = 0;  // the context the free event belongs to
    std::uint64_t event = 0;
  };
  std::vector<Released> Trim(std::uint64_t keep);
  bool HasFree() const;
  // The device's memory went with its context (cuDevicePrimaryCtxReset): every block is dropped,
  // nothing is given back. Returns the blocks' addresses.
  std::vector<CUdeviceptr> Clear();

  CUresult GetAttribute(CUmemPool_attribute attribute, void* value) const;
  CUresult SetAttribute(CUmemPool_attribute attribute, const void* value);
  std::uint64_t release_threshold() const;

  // What another device was granted (cuMemPoolSetAccess); PROT_NONE until then.
  CUmemAccess_flags PeerAccess(int device) const;
  void SetPeerAccess(int device, CUmemAccess_flags flags);

 private:
  struct FreeBlock {
    CUdeviceptr ptr = 0;
    std::uint64_t bytes = 0;
    StreamKey stream;
    std::uint64_t event = 0;
    std::uint64_t seq = 0;
    std::uint64_t ticket = 0;
    bool complete = false;
  };

  const int device_;
  const std::uint64_t max_size_;  // 0: none
  mutable std::mutex mu_;
  std::map<CUdeviceptr, std::uint64_t> used_;  // in use: ptr -> bytes
  std::vector<FreeBlock> free_;
  std::uint64_t used_bytes_ = 0, reserved_bytes_ = 0, used_high_ = 0, reserved_high_ = 0;
  std::uint64_t release_threshold_ = 0;
  bool follow_event_dependencies_ = true, opportunistic_ = true, internal_dependencies_ = true;
  std::map<int, CUmemAccess_flags> peer_access_;
};

}  // namespace gpupool::client
