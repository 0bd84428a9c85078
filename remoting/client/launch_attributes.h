// A CUlaunchConfig's attributes as they travel (LaunchKernelEx, the cluster occupancy queries):
// raw CUlaunchAttribute bytes with event handles replaced by their server ids.
//
// Thread-safety: safe from any thread (reads State's event table).
#pragma once

#include <cuda.h>

#include <string>

namespace gpupool::client {

// CUDA_ERROR_INVALID_VALUE for attributes missing their array, INVALID_HANDLE for an unknown event.
CUresult EncodeLaunchAttributes(const CUlaunchConfig* config, std::string* raw);

}  // namespace gpupool::client
