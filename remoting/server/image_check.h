// CheckImage: the driver reads a module image without being told its size (cuModuleLoadData takes
// only a pointer), so the worker checks that what the client sent is complete before the driver sees
// it: an ELF cubin's headers and sections, a fatbin container's declared size, PTX's terminating NUL.
// A fatbin *wrapper* (which holds a pointer into the client's address space) is refused.
//
// Thread-safety: pure function.
#pragma once

#include <cuda.h>

#include <string_view>

namespace gpupool::server {

// CUDA_SUCCESS, or CUDA_ERROR_INVALID_IMAGE naming nothing more (the log says why).
CUresult CheckImage(std::string_view image);

}  // namespace gpupool::server
