// Launch configurations checked on the client, from the device's cached attributes, so an invalid
// one fails at the call with the code CUDA gives (CUDA_ERROR_INVALID_VALUE) instead of as a
// latched error at the next synchronisation.
//
// Thread-safety: pure function.
#pragma once

#include <cuda.h>

namespace gpupool::client {

struct LaunchLimits {
  int max_threads_per_block = 0;
  int max_block[3] = {0, 0, 0};
  int max_grid[3] = {0, 0, 0};
  int max_shared_optin = 0;  // CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
};

struct LaunchShape {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned shared_bytes = 0;
};

CUresult CheckLaunch(const LaunchLimits& limits, const LaunchShape& shape);

}  // namespace gpupool::client
