// Kernel parameters packed for the wire: the bytes the kernel will see, at the offsets of the
// function's parameter layout (cuFuncGetParamInfo), from either cuLaunchKernel form:
//   kernelParams: one pointer per parameter, each copied `size` bytes to its offset;
//   extra: {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END},
//          the buffer already packed by the program.
// Giving both, or neither for a kernel with parameters, is CUDA_ERROR_INVALID_VALUE, as is a
// buffer over 32 764 bytes.
//
// Thread-safety: pure function.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gpupool::client {

CUresult PackParams(const std::vector<std::uint64_t>& offsets, const std::vector<std::uint64_t>& sizes,
                    void** kernel_params, void** extra, std::string* packed);

}  // namespace gpupool::client
