// `gpupool top` as a user runs it: the real binary against fake GPU servers' Control API.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/cli/cli_runner.h"
#include "tests/support/fake_control_server.h"

namespace gpupool::testing {
namespace {

void Populate(FakeControlServer& server) {
  control::v1::Inventory inv;
  inv.set_server_id("s");
  *inv.add_gpus() = FakeControlServer::MakeGpu("s", 0, 16ULL << 30);
  server.SetInventory(inv);
  control::v1::Session s;
  s.set_id(11);
  s.set_pod_uid("uid-1");
  s.set_pod_namespace("ml");
  s.set_pod_name("sentiment-train-x7");
  s.set_peer("10.0.0.7:51234");
  s.set_process("python3[42]");
  s.set_gpu_uuid("GPU-s-0");
  s.set_memory_used_bytes(3ULL << 30);
  s.set_memory_limit_bytes(8ULL << 30);
  s.set_percent(50);
  s.set_kernels_launched(1000);
  s.set_bytes_to_device(1 << 20);
  s.set_started_unix_ms(1);  // long ago: rates since start are tiny but finite
  control::v1::Session local = s;
  local.set_id(12);
  local.set_pod_uid("");
  local.set_pod_namespace("");
  local.set_pod_name("");
  local.set_process("nbody[777]");
  server.SetSessions({s, local});
  server.Start();
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

}  // namespace

TEST_CASE("top: --once shows each live session with its pod, memory and share", "[top]") {
  FakeControlServer server;
  Populate(server);
  const CliResult r = RunGpupool({"top", "--once", "--control", server.address()});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("2 sessions on 1 of 1 servers"));
  CHECK_THAT(r.output,
             Catch::Matches("(.|\n)*" + server.address() +
                            " +0 +ml/sentiment-train-x7 +python3\\[42\\] +3 GiB +8 GiB +- +50%(.|\n)*"));
  CHECK_THAT(r.output, Catch::Matches("(.|\n)*" + server.address() + " +0 +- +nbody\\[777\\](.|\n)*"));
}

TEST_CASE("top: --json --count prints one JSON object per refresh", "[top]") {
  FakeControlServer server;
  Populate(server);
  const CliResult r =
      RunGpupool({"top", "--json", "--count", "2", "--interval", "100ms", "--control", server.address()}, {},
                 /*merge_stderr=*/false);
  REQUIRE(r.exit_code == 0);
  const auto frames = JsonLines(r.output);
  REQUIRE(frames.size() == 2);
  REQUIRE(frames[0]["sessions"].size() == 2);
  const auto& s = frames[0]["sessions"][0];
  CHECK(s["podName"] == "sentiment-train-x7");
  CHECK(s["memoryUsedBytes"] == 3ULL << 30);
  CHECK(s["percent"] == 50);
  CHECK(s["kernelsLaunched"] == 1000);
  CHECK(s["rates"]["sinceStart"] == true);
  // The second frame measures against the first: same counters, so nothing moved in between.
  const auto& rates = frames[1]["sessions"][0]["rates"];
  CHECK(rates["sinceStart"] == false);
  CHECK(rates["windowSeconds"].get<double>() >= 0.1);
  CHECK(rates["kernelsPerSecond"].get<double>() == 0);
  CHECK(frames[1]["timeUnixMs"].get<std::int64_t>() - frames[0]["timeUnixMs"].get<std::int64_t>() >= 100);
}

TEST_CASE("top: refreshes until interrupted, then exits 0", "[top]") {
  FakeControlServer server;
  Populate(server);
  Subprocess top = StartGpupool({"top", "--interval", "1h", "--control", server.address()});
  REQUIRE(top.WaitForLine("sentiment-train-x7", kCliTimeout).ok());
  top.Signal(SIGINT);
  auto code = top.Wait(kCliTimeout);
  REQUIRE(code.ok());
  CHECK(*code == 0);
}

TEST_CASE("top: an unreachable server exits 1 in --once and is named", "[top]") {
  FakeControlServer up, down;
  Populate(up);
  Populate(down);
  down.Stop();
  const CliResult r = RunGpupool({"top", "--once", "--control", up.address(), "--control", down.address()});
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("2 sessions on 1 of 2 servers"));
  CHECK_THAT(r.output, Catch::Contains("gpupool top: " + down.address() + ": unreachable"));
}

}  // namespace gpupool::testing
