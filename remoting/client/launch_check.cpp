#include "remoting/client/launch_check.h"

#include <cstdint>

namespace gpupool::client {

CUresult CheckLaunch(const LaunchLimits& limits, const LaunchShape& shape) {
  std::uint64_t threads = 1;
  for (int i = 0; i < 3; ++i) {
    if (shape.grid[i] == 0 || shape.block[i] == 0) return CUDA_ERROR_INVALID_VALUE;
    if (shape.grid[i] > static_cast<unsigned>(limits.max_grid[i])) return CUDA_ERROR_INVALID_VALUE;
    if (shape.block[i] > static_cast<unsigned>(limits.max_block[i])) return CUDA_ERROR_INVALID_VALUE;
    threads *= shape.block[i];
  }
  if (threads > static_cast<std::uint64_t>(limits.max_threads_per_block)) return CUDA_ERROR_INVALID_VALUE;
  if (shape.shared_bytes > static_cast<unsigned>(limits.max_shared_optin)) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
