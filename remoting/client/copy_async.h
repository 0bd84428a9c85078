// The asynchronous copy paths behind cuMemcpyAsync (api_copy.cpp) and cuMemcpy3DAsync
// (api_copy_2d.cpp), for the calls built from them (batched copies, api_copy_batch.cpp): in stream
// order on `stream`, captured into graphs and queued behind host functions like those. `at_call`: a
// host source is read before the call returns, whatever holds the stream (ReadSourceAtCall).
#pragma once

#include <cuda.h>

#include <cstddef>

namespace gpupool::client {

CUresult MemcpyAsync(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes, CUstream stream, bool per_thread,
                     bool at_call);
CUresult Memcpy3DAsync(const CUDA_MEMCPY3D& copy, CUstream stream, bool per_thread, bool at_call);

}  // namespace gpupool::client
