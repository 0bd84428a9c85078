// Bulk copies over the session, chunked at protocol::kChunkSize and pipelined: up to kWindow chunk
// requests are in flight before the oldest reply is awaited, so a large copy streams at socket
// speed. Host bytes leave straight from the caller's buffer (gather write) and arrive straight in
// it (Pending::tail); nothing is staged.
//
// When the session has a copy ring (the server on this host, copy_ring.h), host bytes go through
// its slots instead: one memcpy into shared memory here, one out of it in the worker, at memory
// speed. A copy that finds the ring in use by another thread takes the socket.
//
// Asynchronous device-to-host copies are completed before they return (the server waits for the
// stream, then sends the data): the data is in the user's buffer by the next synchronisation of
// that stream, as CUDA promises, without a later step that could be forgotten.
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

}  // namespace gpupool::client
