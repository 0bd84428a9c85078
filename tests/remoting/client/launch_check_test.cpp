#include "remoting/client/launch_check.h"

#include <catch2/catch.hpp>

namespace gpupool::client {
namespace {

TEST_CASE("launch configurations are checked against the device's limits") {
  LaunchLimits h200;
  h200.max_threads_per_block = 1024;
  h200.max_block[0] = 1024;
  h200.max_block[1] = 1024;
  h200.max_block[2] = 64;
  h200.max_grid[0] = 2147483647;
  h200.max_grid[1] = 65535;
  h200.max_grid[2] = 65535;
  h200.max_shared_optin = 232448;
  struct Case {
    const char* what;
    LaunchShape shape;
    CUresult expected;
  };
  const Case cases[] = {
      {"1 block of 1 thread", {{1, 1, 1}, {1, 1, 1}, 0}, CUDA_SUCCESS},
      {"1024 threads", {{4096, 1, 1}, {1024, 1, 1}, 0}, CUDA_SUCCESS},
      {"32x32 block", {{1, 1, 1}, {32, 32, 1}, 0}, CUDA_SUCCESS},
      {"max shared", {{1, 1, 1}, {1, 1, 1}, 232448}, CUDA_SUCCESS},
      {"largest grid", {{2147483647u, 65535, 65535}, {1, 1, 1}, 0}, CUDA_SUCCESS},
      {"1025 threads", {{1, 1, 1}, {1025, 1, 1}, 0}, CUDA_ERROR_INVALID_VALUE},
      {"block 32x33", {{1, 1, 1}, {32, 33, 1}, 0}, CUDA_ERROR_INVALID_VALUE},
      {"block z 65", {{1, 1, 1}, {1, 1, 65}, 0}, CUDA_ERROR_INVALID_VALUE},
      {"grid y 65536", {{1, 65536, 1}, {1, 1, 1}, 0}, CUDA_ERROR_INVALID_VALUE},
      {"grid x 2^31", {{2147483648u, 1, 1}, {1, 1, 1}, 0}, CUDA_ERROR_INVALID_VALUE},
      {"zero grid", {{0, 1, 1}, {1, 1, 1}, 0}, CUDA_ERROR_INVALID_VALUE},
      {"zero block", {{1, 1, 1}, {1, 0, 1}, 0}, CUDA_ERROR_INVALID_VALUE},
      {"too much shared", {{1, 1, 1}, {1, 1, 1}, 232449}, CUDA_ERROR_INVALID_VALUE},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(CheckLaunch(h200, c.shape) == c.expected);
  }
}

}  // namespace
}  // namespace gpupool::client
