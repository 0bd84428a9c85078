// The client's side of the mapped arena (protocol/mapped_arena.h): address space shared with a
// worker on this host at the same address in both processes, from which pinned host allocations are
// carved, so that the worker's driver can map them for the GPU and a kernel reaches them through the
// program's own pointers (mapped, "zero-copy" host memory).
//
// Opened with the session (after the copy ring, over a plain Unix socket only). Allocations are whole
// pages, first fit; registering them for the GPU is the caller's (api_pinned.cpp). The arena is not
// inherited by a forked child (MADV_DONTFORK), as CUDA's pinned memory is not.
//
// Thread-safety: Take and Give lock; the rest are constants after Open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "common/status.h"
#include "remoting/protocol/transport.h"

namespace gpupool::client {

class MappedArena {
 public:
  // Asks the worker for the arena (on the thread opening the session, nothing else in flight). Null
  // when it declines or no address of ours is free in the worker; an error when the exchange failed
  // (the connection is then unusable).
  static Result<std::unique_ptr<MappedArena>> Open(protocol::Connection& conn);
  ~MappedArena();
  MappedArena(const MappedArena&) = delete;
  MappedArena& operator=(const MappedArena&) = delete;

  // What the worker lets the session register (pinned bytes at most).
  std::uint64_t limit() const { return limit_; }
  // Page-rounded room for `bytes`, or null when the arena has no free range that large.
  void* Take(std::size_t bytes, std::size_t* rounded);
  // Returns a range Take gave (`rounded` bytes).
  void Give(void* ptr, std::size_t rounded);

 private:
  MappedArena(char* base, std::uint64_t limit);

  char* const base_;
  const std::uint64_t limit_;
  std::mutex mu_;
  std::map<std::uint64_t, std::uint64_t> free_;  // offset -> bytes, coalesced; guarded by mu_
};

}  // namespace gpupool::client
