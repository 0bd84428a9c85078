#include "cli/top_frame.h"

#include <catch2/catch.hpp>

namespace gpupool::cli {
namespace {

ServerReport Report(std::uint64_t kernels, std::uint64_t h2d) {
  ServerReport r;
  r.target = {"gpu-01:7470", "gpu-01:7471"};
  auto* gpu = r.inventory.add_gpus();
  gpu->set_uuid("GPU-a");
  gpu->set_index(3);
  control::v1::Session s;
  s.set_id(1);
  s.set_pod_namespace("ml");
  s.set_pod_name("train-0");
  s.set_process("python3[42]");
  s.set_gpu_uuid("GPU-a");
  s.set_memory_used_bytes(3ULL << 30);
  s.set_memory_limit_bytes(16ULL << 30);
  s.set_percent(50);
  s.set_kernels_launched(kernels);
  s.set_bytes_to_device(h2d);
  s.set_started_unix_ms(0);
  r.sessions.push_back(s);
  return r;
}

}  // namespace

TEST_CASE("top frame: second frame shows rates over the refresh interval", "[top_frame]") {
  const TopSample first{10000, {Report(100, 0)}};
  const TopSample second{12000, {Report(500, 4 << 20)}};

  const nlohmann::json j1 = TopJson(first, nullptr);
  REQUIRE(j1["sessions"].size() == 1);
  CHECK(j1["sessions"][0]["rates"]["sinceStart"] == true);
  CHECK(j1["sessions"][0]["rates"]["kernelsPerSecond"].get<double>() == Approx(10));

  const nlohmann::json j2 = TopJson(second, &first);
  const auto& rates = j2["sessions"][0]["rates"];
  CHECK(rates["sinceStart"] == false);
  CHECK(rates["windowSeconds"].get<double>() == Approx(2));
  CHECK(rates["kernelsPerSecond"].get<double>() == Approx(200));
  CHECK(rates["bytesToDevicePerSecond"].get<double>() == Approx(2 << 20));
  CHECK(j2["servers"][0]["reachable"] == true);

  const std::string table = TopTable(second, &first);
  CHECK_THAT(table, Catch::Contains("rates over the last 2.0s"));
  CHECK_THAT(table, Catch::Contains("ml/train-0"));
  CHECK_THAT(table, Catch::Contains("2 MiB/s"));
  CHECK_THAT(table, Catch::Contains("200.0"));
}

TEST_CASE("top frame: a session with two GPUs of the server names both, in its device order", "[top_frame]") {
  ServerReport r = Report(10, 0);
  auto* second = r.inventory.add_gpus();
  second->set_uuid("GPU-b");
  second->set_index(0);
  for (const char* uuid : {"GPU-b", "GPU-a"}) r.sessions[0].add_gpus()->set_gpu_uuid(uuid);
  r.sessions[0].set_gpu_uuid("GPU-b");
  const TopSample sample{1000, {r}};
  CHECK_THAT(TopTable(sample, nullptr), Catch::Contains("gpu-01:7470  0,3  "));
  const nlohmann::json j = TopJson(sample, nullptr);
  CHECK(j["sessions"][0]["gpuUuids"] == nlohmann::json::array({"GPU-b", "GPU-a"}));
  CHECK(j["sessions"][0]["mappedHostBytes"] == 0);
  r.sessions[0].set_mapped_host_bytes(1 << 20);  // a client on the server's node, pinned memory mapped
  CHECK(TopJson(TopSample{1000, {r}}, nullptr)["sessions"][0]["mappedHostBytes"] == 1 << 20);
  CHECK_THAT(TopTable(TopSample{1000, {r}}, nullptr), Catch::Contains(" 1 MiB "));
}

TEST_CASE("top frame: an unreachable server is named with its error", "[top_frame]") {
  ServerReport down;
  down.target = {"gpu-02:7470", "gpu-02:7471"};
  down.status = Status::Unavailable("unreachable (connection refused)");
  const TopSample sample{1000, {Report(1, 1), down}};
  const std::string table = TopTable(sample, nullptr);
  CHECK_THAT(table, Catch::Contains("1 session on 1 of 2 servers"));
  CHECK_THAT(table, Catch::Contains("gpu-02:7470: unreachable (connection refused)"));
  const nlohmann::json j = TopJson(sample, nullptr);
  CHECK(j["servers"][1]["reachable"] == false);
  CHECK(j["servers"][1]["error"] == "unreachable (connection refused)");
}

}  // namespace gpupool::cli
