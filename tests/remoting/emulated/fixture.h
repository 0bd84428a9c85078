// The emulated backend as the tests see it: opened once per test process (the backend is
// process-wide) with two 16 GiB GPUs and a launch log, cuInit done and device 0's primary context
// current on the calling thread.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "remoting/server/driver_api.h"

namespace gpupool::server::emulated_test {

const DriverApi& Api();
// The --record-launches file of this process's backend.
const std::string& LaunchLogPath();
// The lines appended to the launch log since the last call.
std::string NewLaunchLogLines();

}  // namespace gpupool::server::emulated_test

#define CU_OK(expr) REQUIRE((expr) == CUDA_SUCCESS)
