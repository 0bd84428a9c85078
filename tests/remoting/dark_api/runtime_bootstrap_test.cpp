// Stock nvcc programs (static and shared CUDA runtime) against the dark API test driver: the real
// NVIDIA runtime must start, pass its integrity check, keep and rebuild its per-context state, and
// refuse to start when the tables see values the public API does not report.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/support/process.h"

namespace gpupool::dark_api {
namespace {

using gpupool::testing::Subprocess;
using gpupool::testing::SubprocessOptions;

struct Run {
  int exit_code = -1;
  std::string output;
};

Run RunProgram(const std::string& program, int devices, const std::string& skew) {
  SubprocessOptions options;
  options.env["LD_LIBRARY_PATH"] = std::string(GPUPOOL_TEST_DRIVER_DIR) + ":" + GPUPOOL_CUDA_LIBRARY_DIR;
  options.env["GPUPOOL_TEST_DRIVER_DEVICES"] = std::to_string(devices);
  if (!skew.empty()) options.env["GPUPOOL_TEST_DRIVER_SKEW"] = skew;
  auto child = Subprocess::Start({program, std::to_string(devices)}, options);
  REQUIRE(child.ok());
  auto code = child->Wait(std::chrono::seconds(120));
  REQUIRE(code.ok());
  return {*code, child->output()};
}

TEST_CASE("stock runtime programs start and work on gpupool's export tables") {
  const auto [program, devices] = GENERATE(table<std::string, int>({
      {GPUPOOL_RUNTIME_BOOTSTRAP_STATIC, 1},
      {GPUPOOL_RUNTIME_BOOTSTRAP_STATIC, 2},
      {GPUPOOL_RUNTIME_BOOTSTRAP_SHARED, 1},
      {GPUPOOL_RUNTIME_BOOTSTRAP_SHARED, 3},
  }));
  INFO(program << " with " << devices << " devices");
  const Run run = RunProgram(program, devices, "");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("runtime_bootstrap: PASS") != std::string::npos);
  // The launch reached the driver with the kernel the runtime registered.
  CHECK(run.output.find("launch GpupoolTouch grid 1x1x1 block 256x1x1") != std::string::npos);
  // cudaDeviceReset destroyed the primary context and, with it, the runtime's per-context values.
  CHECK(run.output.find("primary context of device 0 destroyed, 1 context-local values") !=
        std::string::npos);
}

TEST_CASE("the runtime rejects an integrity answer over values the driver does not report") {
  const auto [program, skew] = GENERATE(table<std::string, std::string>({
      {GPUPOOL_RUNTIME_BOOTSTRAP_STATIC, "driver_version"},
      {GPUPOOL_RUNTIME_BOOTSTRAP_STATIC, "pci_bus"},
      {GPUPOOL_RUNTIME_BOOTSTRAP_SHARED, "pci_bus"},
  }));
  INFO(program << " with skewed " << skew);
  const Run run = RunProgram(program, 1, skew);
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(run.output.find("cudaGetDeviceCount: cudaErrorSoftwareValidityNotEstablished") != std::string::npos);
}

}  // namespace
}  // namespace gpupool::dark_api
