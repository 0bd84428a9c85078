// `gpupool run` as a user runs it: the real binary, a local emulated gpupool-server, and programs
// that load gpupool's libcuda.so.1 from build/lib.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/cli/cli_runner.h"
#include "tests/support/test_pki.h"

namespace gpupool::testing {

TEST_CASE("run: returns the program's exit code", "[run]") {
  auto result = RunGpupool({"run", "--", "sh", "-c", "exit 3"});
  INFO(result.output);
  CHECK(result.exit_code == 3);
  CHECK(result.output.find("starting a local gpupool-server on the") != std::string::npos);
}

TEST_CASE("run: a program that does not exist is exit code 127", "[run]") {
  auto result = RunGpupool({"run", "--", "/nonexistent/gpupool-test-program"});
  INFO(result.output);
  CHECK(result.exit_code == 127);
  CHECK(result.output.find("/nonexistent/gpupool-test-program") != std::string::npos);
}

TEST_CASE("run: malformed flags are usage errors that name the value", "[run]") {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"run", "--memory", "12XB", "--", "true"}, "memory '12XB'"},
      {{"run", "--percent", "0", "--", "true"}, "percent 0 is outside 1..100"},
      {{"run", "--server", "gpu-01:99999", "--", "true"}, "99999"},
      {{"run", "--frobnicate", "--", "true"}, "--frobnicate"},
      {{"run"}, "no command to run"},
      {{"run", "--tls-ca-file", "ca.pem", "--", "true"}, "--tls-ca-file needs --server"},
      {{"run", "--server", "h:1", "--tls-server-name", "n", "--", "true"},
       "--tls-server-name needs --tls-ca-file"},
  };
  for (const auto& c : cases) {
    auto result = RunGpupool(c.args);
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK(result.output.find(c.message) != std::string::npos);
  }
}

#ifdef GPUPOOL_DEVICE_QUERY
TEST_CASE("run: a stock driver-API program sees the emulated GPU and moves data intact", "[run]") {
  auto result = RunGpupool({"run", "--", GPUPOOL_DEVICE_QUERY});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("emulated (no NVIDIA GPU found)") != std::string::npos);
  CHECK(result.output.find("Device 0: gpupool emulated H200") != std::string::npos);
  CHECK(result.output.find("compute capability      9.0") != std::string::npos);
  CHECK(result.output.find("data intact") != std::string::npos);
}

TEST_CASE("run: --memory becomes the session's total memory", "[run]") {
  auto result = RunGpupool({"run", "--memory", "1GiB", "--", GPUPOOL_DEVICE_QUERY});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("of 1.0 GiB") != std::string::npos);
}

TEST_CASE("run: --gpus and --memory give each emulated GPU that memory, held per GPU", "[run]") {
  auto result = RunGpupool({"run", "--gpus", "2", "--memory", "1GiB", "--", GPUPOOL_DEVICE_QUERY});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("2 device(s)") != std::string::npos);
  const auto second = result.output.find("Device 1:");
  REQUIRE(second != std::string::npos);
  CHECK(result.output.find("global memory           1.0 GiB", second) != std::string::npos);
  CHECK(result.output.find("free of 1.0 GiB") != std::string::npos);  // device 0's share, not both
}

TEST_CASE("run: --tls-ca-file reaches a TLS server, without it the program gets a CUDA error", "[run]") {
  auto pki = TestPki::Create();
  auto server =
      Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--listen", "127.0.0.1:0",
                         "--tls-cert-file", pki->server.cert_file, "--tls-key-file", pki->server.key_file});
  REQUIRE(server.ok());
  auto line = server->WaitForLine("listening on 127.0.0.1:", kCliTimeout);
  REQUIRE(line.ok());
  std::string address = line->substr(line->find("127.0.0.1:"));
  while (!address.empty() && (address.back() == '\n' || address.back() == '\r')) address.pop_back();

  auto tls = RunGpupool(
      {"run", "--server", address, "--tls-ca-file", pki->client.ca_file, "--", GPUPOOL_DEVICE_QUERY});
  INFO(tls.output);
  CHECK(tls.exit_code == 0);
  CHECK(tls.output.find("data intact") != std::string::npos);

  auto named = RunGpupool({"run", "--server", address, "--tls-ca-file", pki->client.ca_file,
                           "--tls-server-name", "gpupool-server.test", "--", GPUPOOL_DEVICE_QUERY});
  INFO(named.output);
  CHECK(named.exit_code == 0);

  auto plain = RunGpupool({"run", "--server", address, "--", GPUPOOL_DEVICE_QUERY});
  INFO(plain.output);
  CHECK(plain.exit_code != 0);
  CHECK(plain.output.find("accepts only TLS") != std::string::npos);
}

TEST_CASE("run: an unreachable --server is a CUDA error in the program, not a hang", "[run]") {
  auto result = RunGpupool({"run", "--server", "127.0.0.1:1", "--", GPUPOOL_DEVICE_QUERY});
  INFO(result.output);
  CHECK(result.exit_code != 0);
  CHECK(result.output.find("cuInit(0) failed") != std::string::npos);
}
#endif

}  // namespace gpupool::testing
