#include <catch2/catch.hpp>

#include "operator/controllers/control_client.h"
#include "operator/controllers/pool_status.h"

namespace gpupool::controllers {
namespace {

using nlohmann::json;

control::v1::Inventory Inventory(const std::string& tag, int gpus, bool healthy = true) {
  control::v1::Inventory inv;
  inv.set_server_id("srv-" + tag);
  inv.set_version("0.1.0");
  inv.set_device_kind("emulated");
  for (int i = 0; i < gpus; ++i) {
    auto* g = inv.add_gpus();
    g->set_uuid("GPU-" + tag + "-" + std::to_string(i));
    g->set_model("NVIDIA H200");
    g->set_memory_bytes(100ULL << 30);
    g->set_healthy(healthy);
  }
  return inv;
}

TEST_CASE("pool spec: servers, policy, default, control addresses") {
  const json pool = {
      {"metadata", {{"name", "p"}, {"generation", 3}}},
      {"spec",
       {{"default", true},
        {"policy", "spread"},
        {"servers",
         json::array({{{"address", "gpu-1:7470"}},
                      {{"address", "gpu-2:7470"}, {"controlAddress", "gpu-2:9000"}, {"node", "n2"}}})}}}};
  auto spec = ParsePoolSpec(pool);
  REQUIRE(spec.ok());
  CHECK(spec->name == "p");
  CHECK(spec->generation == 3);
  CHECK(spec->is_default);
  CHECK(spec->policy == placement::Policy::kSpread);
  REQUIRE(spec->servers.size() == 2);
  CHECK(spec->servers[0].control == "gpu-1:7471");
  CHECK(spec->servers[1].control == "gpu-2:9000");
  CHECK(spec->servers[0].node.empty());
  CHECK(spec->servers[1].node == "n2");

  CHECK(
      ParsePoolSpec(json{{"metadata", {{"name", "p"}}}, {"spec", {{"policy", "random"}}}}).status().code() ==
      Code::kInvalidArgument);
  CHECK(ParsePoolSpec(json::object()).status().code() == Code::kInvalidArgument);
  CHECK(DefaultControlAddress("[::1]:7470") == "[::1]:7471");
}

TEST_CASE("pool status: an unreachable server keeps its GPUs, unhealthy, and degrades the pool") {
  PoolSpec spec;
  spec.name = "p";
  spec.generation = 2;
  ServerProbe up{{"a:7470", "a:7471", "node-a"}, true, "", Inventory("a", 2), false, false, ""};
  ServerProbe down{{"b:7470", "b:7471", "node-b"}, false, "connection refused", {}, true, false,
                   "2026-01-31T00:00:00Z"};
  const json old_status = {
      {"gpus", json::array({{{"server", "b:7470"},
                             {"uuid", "GPU-b-0"},
                             {"model", "H200"},
                             {"memoryBytes", 80ULL << 30},
                             {"healthy", true},
                             {"lastTransitionTime", "2026-01-01T00:00:00Z"}}})},
      {"conditions",
       json::array(
           {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", "2026-01-01T00:00:00Z"}}})}};
  const auto gpus = PoolGpus({up, down}, old_status);
  REQUIRE(gpus.size() == 3);
  CHECK(gpus[2].uuid == "GPU-b-0");
  CHECK_FALSE(gpus[2].healthy);
  CHECK(gpus[0].node == "node-a");  // each GPU carries its server's node, reachable or not
  CHECK(gpus[2].node == "node-b");

  placement::Ledger ledger;
  ledger.SetPool("p", placement::Policy::kBinpack, true, gpus);
  REQUIRE(ledger.Claim({"ns", "x", "u1"}, Binding{"p", {{"a:7470", "GPU-a-0", 50, 10ULL << 30}}}).ok());
  Pending pending{2, {"ns/w1", "ns/w2"}, "pool p: 0 of 2 healthy GPUs have 100% free"};
  const json status =
      BuildPoolStatus(spec, {up, down}, ledger.Usage("p"), pending, old_status, "2026-02-02T00:00:00Z");
  CHECK(status["observedGeneration"] == 2);
  CHECK(status["serverCount"] == 2);
  CHECK(status["readyServers"] == 1);
  CHECK(status["gpuCount"] == 3);
  CHECK(status["healthyGPUs"] == 2);
  CHECK(status["allocatedGPUs"] == 0.5);
  CHECK(status["freeGPUs"] == 1.5);
  CHECK(status["boundPods"] == 1);
  CHECK(status["pendingPods"] == 2);
  CHECK(status["gpus"][0]["allocatedPercent"] == 50);
  CHECK(status["gpus"][2]["message"] == "server unreachable since 2026-01-31T00:00:00Z: connection refused");
  CHECK(status["gpus"][2]["lastTransitionTime"] == "2026-02-02T00:00:00Z");  // was healthy
  CHECK(status["gpus"][0]["lastTransitionTime"] == "2026-02-02T00:00:00Z");  // new
  CHECK(status["servers"][1]["message"] == "connection refused");
  CHECK(status["servers"][1]["healthy"] == false);
  CHECK(status["servers"][1]["unreachableSince"] == "2026-01-31T00:00:00Z");
  CHECK(status["servers"][0]["healthy"] == true);
  CHECK_FALSE(status["servers"][0].contains("unreachableSince"));
  std::map<std::string, json> by_type;
  for (const json& c : status["conditions"]) by_type[c["type"]] = c;
  CHECK(by_type["Ready"]["status"] == "True");
  CHECK(by_type["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:00Z");  // unchanged: kept
  CHECK(by_type["Degraded"]["status"] == "True");
  CHECK(by_type["Degraded"]["message"] == "unreachable: b:7470 (since 2026-01-31T00:00:00Z)");
  CHECK(by_type["Degraded"]["reason"] == "ServersUnreachable");
  CHECK(by_type["Degraded"]["lastTransitionTime"] == "2026-02-02T00:00:00Z");
  CHECK(by_type["CapacityAvailable"]["status"] == "False");
  CHECK_THAT(by_type["CapacityAvailable"]["message"].get<std::string>(),
             Catch::Contains("2 pods wait for capacity (ns/w1, ns/w2)"));
}

TEST_CASE("pool status: a silent server within its grace keeps its GPUs as published") {
  PoolSpec spec;
  spec.name = "p";
  ServerProbe silent{{"b:7470", "b:7471", ""}, false, "deadline exceeded", {}, false, false,
                     "2026-01-31T00:00:00Z"};
  const json old_status = {{"gpus", json::array({{{"server", "b:7470"},
                                                  {"uuid", "GPU-b-0"},
                                                  {"healthy", true},
                                                  {"lastTransitionTime", "2026-01-01T00:00:00Z"}},
                                                 {{"server", "b:7470"},
                                                  {"uuid", "GPU-b-1"},
                                                  {"healthy", false},
                                                  {"message", "reported unhealthy by its server: Xid 79"},
                                                  {"lastTransitionTime", "2026-01-02T00:00:00Z"}}})}};
  const auto gpus = PoolGpus({silent}, old_status);
  REQUIRE(gpus.size() == 2);
  CHECK(gpus[0].healthy);
  CHECK_FALSE(gpus[1].healthy);
  placement::Ledger ledger;
  ledger.SetPool("p", placement::Policy::kBinpack, true, gpus);
  const json status =
      BuildPoolStatus(spec, {silent}, ledger.Usage("p"), Pending{}, old_status, "2026-02-02T00:00:00Z");
  CHECK(status["servers"][0]["reachable"] == false);
  CHECK(status["servers"][0]["healthy"] == true);
  CHECK(status["gpus"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z");  // unchanged: kept
  CHECK(status["gpus"][1]["message"] == "reported unhealthy by its server: Xid 79");
  CHECK(status["gpus"][1]["lastTransitionTime"] == "2026-01-02T00:00:00Z");
  CHECK(status["conditions"][1]["status"] == "False");
  CHECK(status["conditions"][1]["reason"] == "ServersNotAnswering");
  CHECK_THAT(status["conditions"][1]["message"].get<std::string>(), Catch::Contains("b:7470"));
}

TEST_CASE("pool status: a GPU its server reports unhealthy degrades the pool") {
  PoolSpec spec;
  spec.name = "p";
  control::v1::Inventory inv = Inventory("a", 2);
  inv.mutable_gpus(1)->set_healthy(false);
  inv.mutable_gpus(1)->set_health_message("ECC errors");
  ServerProbe up{{"a:7470", "a:7471", ""}, true, "", inv, false, false, ""};
  placement::Ledger ledger;
  ledger.SetPool("p", placement::Policy::kBinpack, true, PoolGpus({up}, json()));
  const json status = BuildPoolStatus(spec, {up}, ledger.Usage("p"), Pending{}, json(), "t");
  CHECK(status["gpus"][1]["healthy"] == false);
  CHECK(status["gpus"][1]["message"] == "reported unhealthy by its server: ECC errors");
  CHECK(status["conditions"][1]["status"] == "True");
  CHECK(status["conditions"][1]["reason"] == "GPUsUnhealthy");
  CHECK(status["conditions"][1]["message"] == "unhealthy GPUs: GPU-a-1 on a:7470");
}

TEST_CASE("pool status: no servers, no healthy GPUs: not ready") {
  PoolSpec spec;
  spec.name = "empty";
  const json status = BuildPoolStatus(spec, {}, {}, Pending{}, json(), "t");
  CHECK(status["conditions"][0]["type"] == "Ready");
  CHECK(status["conditions"][0]["status"] == "False");
  CHECK(status["conditions"][0]["message"] == "the pool lists no servers");
  CHECK(status["conditions"][1]["status"] == "False");
}

}  // namespace
}  // namespace gpupool::controllers

namespace gpupool::controllers {
namespace {

TEST_CASE("pool spec: servers on nodes chosen by serverSelector") {
  const nlohmann::json pool = {
      {"metadata", {{"name", "p"}}},
      {"spec",
       {{"serverSelector",
         {{"matchLabels", {{"gpupool.io/server", "true"}}},
          {"matchExpressions",
           nlohmann::json::array({{{"key", "zone"}, {"operator", "In"}, {"values", {"a", "b"}}},
                                  {{"key", "old"}, {"operator", "DoesNotExist"}}})}}},
        {"serverPort", 9000},
        {"servers", nlohmann::json::array({{{"address", "10.0.0.1:9000"}}})}}}};
  auto spec = ParsePoolSpec(pool);
  REQUIRE(spec.ok());
  CHECK(spec->has_node_selector);
  CHECK(spec->node_selector == "gpupool.io/server=true,zone in (a,b),!old");
  const nlohmann::json nodes = {
      {"items", nlohmann::json::array(
                    {{{"status",
                       {{"addresses",
                         {{{"type", "Hostname"}, {"address", "n0"}},
                          {{"type", "InternalIP"}, {"address", "10.0.0.1"}}}}}}},
                     {{"metadata", {{"name", "node-2"}, {"labels", {{"kubernetes.io/hostname", "gpu-02"}}}}},
                      {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "10.0.0.2"}}}}}}},
                     {{"metadata", {{"name", "node-3"}}},
                      {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "fd00::3"}}}}}}},
                     {{"status", nlohmann::json::object()}}})}};
  const auto servers = ServersOnNodes(*spec, nodes);
  REQUIRE(servers.size() == 2);  // 10.0.0.1 is listed already; the last node has no address
  CHECK(servers[0].address == "10.0.0.2:9000");
  CHECK(servers[0].control == "10.0.0.2:9001");
  CHECK(servers[1].address == "[fd00::3]:9000");
  CHECK(servers[0].node == "gpu-02");  // its kubernetes.io/hostname label
  CHECK(servers[1].node == "node-3");  // no label: its name
  CHECK(LabelSelectorString(nlohmann::json::object()).empty());
}

}  // namespace
}  // namespace gpupool::controllers
