// Runs each runtime-API test program (static and shared runtime) through gpupool: a gpupool-server
// with the emulated device on a Unix socket, recording launches, the program with gpupool's
// libcuda.so.1, --no-kernel-results and --launch-log. Each must print "PASS <name>" and exit 0.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/support/process.h"

namespace gpupool {
namespace {

using testing::Subprocess;
using testing::SubprocessOptions;
using testing::TempDir;

TEST_CASE("runtime-API test programs pass through gpupool on the emulated device") {
  const std::string name =
      GENERATE("runtime_init", "device_properties", "memory", "symbols", "streams_events", "graph_capture",
               "error_reporting", "host_callbacks", "stream_ordered_allocation");
  const std::string runtime = GENERATE("static", "shared");
  INFO(name << " (" << runtime << " runtime)");

  TempDir dir;
  const std::string socket = "unix:" + dir.File("s");
  const std::string launches = dir.File("launches");
  auto server = Subprocess::Start(
      {GPUPOOL_SERVER_BINARY, "--device", "emulated", "--listen", socket, "--record-launches", launches});
  REQUIRE(server.ok());
  auto ready = server->WaitForLine("listening on", std::chrono::seconds(30));
  INFO(server->output());
  REQUIRE(ready.ok());

  SubprocessOptions options;
  options.env["LD_LIBRARY_PATH"] = std::string(GPUPOOL_CLIENT_DIR) + ":" + GPUPOOL_CUDA_LIBRARY_DIR;
  options.env["GPUPOOL_SERVER"] = socket;
  const std::string program = std::string(GPUPOOL_PROGRAM_DIR) + "/cuda_runtime_" + name + "_" + runtime;
  auto child = Subprocess::Start({program, "--no-kernel-results", "--launch-log", launches}, options);
  REQUIRE(child.ok());
  auto code = child->Wait(std::chrono::seconds(300));
  REQUIRE(code.ok());
  INFO(child->output());
  CHECK(*code == 0);
  CHECK(child->output().find("PASS " + name + "\n") != std::string::npos);
}

}  // namespace
}  // namespace gpupool
