// CUresult names and descriptions (cuGetErrorName, cuGetErrorString), from cuda_errors.def.
//
// Thread-safety: pure functions over a constant table.
#pragma once

#include <cuda.h>

namespace gpupool::client {

// "CUDA_ERROR_INVALID_VALUE", or nullptr for a value that is not a CUresult.
const char* ErrorName(CUresult result);
// "invalid argument", or nullptr for a value that is not a CUresult.
const char* ErrorString(CUresult result);

}  // namespace gpupool::client
