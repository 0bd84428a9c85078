// Copies with a CUDA array on at least one side (api_copy_array.cpp), for cuMemcpy2D/3D and the
// 1D array copies (cuMemcpyHtoA, ...).
#pragma once

#include <cuda.h>

namespace gpupool::client {

// Checks `copy` (a 2D copy has Depth 1) against the arrays' extents and sends it: host data in
// chunks of whole slices, whole rows or row pieces; in stream order when `async` (captured into
// graphs, queued behind host functions), else after the NULL stream's earlier work. `at_call`: a host
// source is read before the call returns (ReadSourceAtCall).
CUresult CopyWithArray(const CUDA_MEMCPY3D& copy, CUstream stream, bool per_thread, bool async,
                       bool at_call = false);

}  // namespace gpupool::client
