// Bulk copies over the session, chunked at protocol::kChunkSize and pipelined: up to kWindow chunk
// requests are in flight before the oldest reply is awaited, so a large copy streams at socket
// speed. Host bytes leave straight from the caller's buffer (gather write) and arrive straight in
// it (Pending::tail); nothing is staged.
//
// When the session has a copy ring (the server on this host, copy_ring.h), host bytes go through
// its slots instead: one memcpy into shared memory here, one out of it in the worker, at memory
// speed. A copy that finds the ring in use by another thread takes the socket.
//
// Host memory in the mapped arena (pinned memory the worker maps too, mapped_arena.h) is device memory
// to the worker: a copy to or from it goes as a device-to-device copy on its stream, and no byte
// travels (a synchronous one then waits for the stream). The rest of this comment is about other
// host memory.
//
// Asynchronous device-to-host copies into pinned memory are deferred (MemcpyDtoHDeferred): they
// return at once, the worker does not wait for the stream, and the bytes land in the user's buffer
// when the reply is read, which the server sends ahead of the reply of the synchronisation that
// covers the copy (stream, event or context synchronise or query, a host function's wait). Calls
// that synchronise without one of those (synchronous copies, when a copy on a blocking stream is
// out) and the freeing of pinned memory first wait for every deferred copy (FinishDeferredCopies). At most
// kMaxDeferredCopies chunks are unanswered; beyond that, and into pageable memory (where CUDA's copy is
// synchronous anyway), an asynchronous copy is completed before it returns. GPUPOOL_DEFERRED_COPIES=off
// completes them all.
//
// Thread-safety: as Session.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>

namespace gpupool::client {

// `stream` is a wire stream id; `async` selects the asynchronous opcode.
CUresult CopyHostToDevice(std::uint64_t context, CUdeviceptr dst, const void* src, std::size_t bytes,
                          std::uint64_t stream, bool async);
CUresult CopyDeviceToHost(std::uint64_t context, void* dst, CUdeviceptr src, std::size_t bytes,
                          std::uint64_t stream, bool async);
CUresult CopyDeviceToDevice(std::uint64_t context, CUdeviceptr dst, CUdeviceptr src, std::size_t bytes,
                            std::uint64_t stream, bool async);
// cuMemcpy / cuMemcpyAsync: the direction from the client's allocation table (unified addressing).
CUresult CopyUnified(std::uint64_t context, CUdeviceptr dst, CUdeviceptr src, std::size_t bytes,
                     std::uint64_t stream, bool async);
// Whether an asynchronous copy from device memory [src, src + src_bytes) into host memory
// [dst, dst + dst_bytes) may be deferred: into pinned memory (a copy to pageable memory is
// synchronous in CUDA too), from inside one known allocation (a bad source is then refused at the
// call, as before). A 2D copy passes the spans from its first row's start to its last row's end.
bool Deferrable(const void* dst, std::size_t dst_bytes, CUdeviceptr src, std::size_t src_bytes);
// Sends deferred requests 0 to count - 1 (`defer(i)` sends request i through Defer<op>) while the
// session has room for them; returns how many it sent. A failure other than a full window stops
// there and goes to *error. What was not deferred the caller completes before its call returns.
template <typename DeferOne>
std::size_t DeferWhileRoom(std::size_t count, DeferOne defer, CUresult* error) {
  std::size_t i = 0;
  for (; i < count; ++i) {
    const CUresult r = defer(i);
    if (r == CUDA_ERROR_NOT_READY) break;  // the window is full: the rest is not deferred
    if (r != CUDA_SUCCESS) {
      *error = r;
      break;
    }
  }
  return i;
}
// Whether the calling thread is inside CopyHostToDevice or CopyDeviceToHost, reading or writing the
// program's host memory (managed memory's fault handler must not fetch from there: managed_memory.h).
bool InsideHostCopy();
// Returns once every deferred device-to-host copy has landed (at once when none is out).
CUresult FinishDeferredCopies();
// Before a synchronous copy, which natively finds done the work of every stream the legacy NULL
// stream waits for: when a copy deferred on such a stream is out, every deferred copy lands. Copies
// on CU_STREAM_NON_BLOCKING streams alone stay out, as their streams keep running natively.
CUresult FinishDeferredCopiesOnBlockingStreams();
// Before a copy reads or writes host memory [p, p + n) on the client: when a deferred copy is still
// to land there, every deferred copy lands first, so stream order holds (a later copy reads the
// earlier one's bytes, and its own bytes are not overwritten by them afterwards).
CUresult FinishDeferredCopiesInto(const void* p, std::size_t n);

}  // namespace gpupool::client
