// gpupool's libnvidia-ml.so.1 against a real gpupool-server with the emulated device: nvml_probe
// compares every NVML answer with the CUDA driver's in the same process.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/support/process.h"

namespace gpupool {
namespace {

using testing::Subprocess;
using testing::SubprocessOptions;
using testing::TempDir;

SubprocessOptions ProbeOptions(const std::string& server) {
  SubprocessOptions options;
  options.env["LD_LIBRARY_PATH"] = GPUPOOL_CLIENT_DIR;
  options.env["GPUPOOL_SERVER"] = server;
  return options;
}

TEST_CASE("nvml: every answer is the CUDA driver's for the same device") {
  TempDir dir;
  const std::string socket = "unix:" + dir.File("s");
  // Two GPUs, so that every lookup must find the right one.
  auto server = Subprocess::Start(
      {GPUPOOL_SERVER_BINARY, "--device", "emulated", "--emulated-gpus", "2", "--listen", socket});
  REQUIRE(server.ok());
  auto ready = server->WaitForLine("listening on", std::chrono::seconds(30));
  INFO(server->output());
  REQUIRE(ready.ok());
  auto probe = Subprocess::Start({GPUPOOL_NVML_PROBE, "--gpus", "2"}, ProbeOptions(socket));
  REQUIRE(probe.ok());
  auto code = probe->Wait(std::chrono::seconds(120));
  REQUIRE(code.ok());
  INFO(probe->output());
  CHECK(*code == 0);
  CHECK(probe->output().find("PASS nvml_probe\n") != std::string::npos);
  // An NVML function gpupool does not implement is named in the log once, however often it is called.
  const std::string& out = probe->output();
  const auto first = out.find("nvmlDeviceGetTemperature is not supported by gpupool");
  CHECK(first != std::string::npos);
  CHECK(out.find("nvmlDeviceGetTemperature is not supported", first + 1) == std::string::npos);
}

TEST_CASE("nvml: without a reachable server nvmlInit says the driver is not loaded") {
  TempDir dir;
  auto probe =
      Subprocess::Start({GPUPOOL_NVML_PROBE, "--no-server"}, ProbeOptions("unix:" + dir.File("nobody")));
  REQUIRE(probe.ok());
  auto code = probe->Wait(std::chrono::seconds(60));
  REQUIRE(code.ok());
  INFO(probe->output());
  CHECK(*code == 0);
  CHECK(probe->output().find("PASS nvml_probe --no-server\n") != std::string::npos);
}

}  // namespace
}  // namespace gpupool
