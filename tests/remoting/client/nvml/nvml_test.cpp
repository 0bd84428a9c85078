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

// How many sessions the server started for nvml_probe processes, once they have all ended.
std::size_t ProbeSessions(Subprocess& server, std::size_t ended) {
  for (std::size_t i = 0; i < ended; ++i)
    REQUIRE(server.WaitForLine("session ended", std::chrono::seconds(30)).ok());
  std::size_t n = 0;
  const std::string& out = server.output();
  for (auto at = out.find("for nvml_probe["); at != std::string::npos;
       at = out.find("for nvml_probe[", at + 1))
    ++n;
  return n;
}

// NVML first asks the server through a session of its own (CUDA stays uninitialised); a process
// whose CUDA is initialised already is answered by it, and the server sees no second session.
TEST_CASE("nvml: a process that initialised CUDA first costs the server no second session") {
  TempDir dir;
  const std::string socket = "unix:" + dir.File("s");
  auto server = Subprocess::Start({GPUPOOL_SERVER_BINARY, "--device", "emulated", "--listen", socket});
  REQUIRE(server.ok());
  REQUIRE(server->WaitForLine("listening on", std::chrono::seconds(30)).ok());
  auto probe = Subprocess::Start({GPUPOOL_NVML_PROBE, "--cuda-first"}, ProbeOptions(socket));
  REQUIRE(probe.ok());
  auto code = probe->Wait(std::chrono::seconds(120));
  REQUIRE(code.ok());
  INFO(probe->output());
  CHECK(*code == 0);
  CHECK(probe->output().find("PASS nvml_probe --cuda-first\n") != std::string::npos);
  INFO(server->output());
  CHECK(ProbeSessions(*server, 1) == 1);
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
