#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "operator/placement/policy.h"
#include "operator/placement/request.h"

namespace gpupool::placement {
namespace {

using nlohmann::json;

json PodWith(json containers) {
  return json{{"spec", {{"containers", containers}}}};
}

TEST_CASE("request: read from limits or requests of any container") {
  struct Row {
    const char* what;
    json pod;
    std::optional<Request> want;
  };
  const std::vector<Row> rows = {
      {"no gpupool resources",
       PodWith(json::array({{{"name", "a"}, {"resources", {{"limits", {{"cpu", "1"}}}}}}})), std::nullopt},
      {"gpu only: whole GPU",
       PodWith(json::array({{{"name", "a"}, {"resources", {{"limits", {{"gpupool.io/gpu", "2"}}}}}}})),
       Request{2, 100, std::nullopt, false, ""}},
      {"percent only: one GPU",
       PodWith(
           json::array({{{"name", "a"}, {"resources", {{"requests", {{"gpupool.io/gpu-percent", 50}}}}}}})),
       Request{1, 50, std::nullopt, false, ""}},
      {"memory in GiB",
       PodWith(json::array(
           {{{"name", "a"},
             {"resources", {{"limits", {{"gpupool.io/gpu", "1"}, {"gpupool.io/gpu-memory", "16"}}}}}}})),
       Request{1, 100, 16, false, ""}},
      {"largest of two containers",
       PodWith(json::array(
           {{{"name", "a"}, {"resources", {{"limits", {{"gpupool.io/gpu-percent", "30"}}}}}},
            {{"name", "b"},
             {"resources", {{"limits", {{"gpupool.io/gpu", "2"}, {"gpupool.io/gpu-percent", "20"}}}}}}})),
       Request{2, 30, std::nullopt, false, ""}},
      {"gpu 0 alone asks for nothing",
       PodWith(json::array({{{"name", "a"}, {"resources", {{"limits", {{"gpupool.io/gpu", "0"}}}}}}})),
       std::nullopt},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    auto got = RequestFromPod(row.pod);
    REQUIRE(got.ok());
    CHECK(*got == row.want);
  }
}

TEST_CASE("request: impossible values say why") {
  struct Row {
    json limits;
    const char* message_part;
  };
  const std::vector<Row> rows = {
      {{{"gpupool.io/gpu-percent", "0"}}, "gpu-percent is 0, must be 1..100"},
      {{{"gpupool.io/gpu-percent", "101"}}, "gpu-percent is 101, must be 1..100"},
      {{{"gpupool.io/gpu", "0"}, {"gpupool.io/gpu-percent", "50"}}, "gpupool.io/gpu is 0 but"},
      {{{"gpupool.io/gpu", "1.5"}}, "is not a whole number"},
      {{{"gpupool.io/gpu", "1k"}}, "is not a whole number"},
      {{{"gpupool.io/gpu-memory", "0"}}, "gpu-memory is 0"},
      {{{"gpupool.io/gpu", "65"}}, "more than 64"},
  };
  for (const Row& row : rows) {
    INFO(row.limits.dump());
    auto got =
        RequestFromPod(PodWith(json::array({{{"name", "main"}, {"resources", {{"limits", row.limits}}}}})));
    REQUIRE_FALSE(got.ok());
    CHECK(got.status().code() == Code::kInvalidArgument);
    CHECK_THAT(got.status().message(),
               Catch::Contains(row.message_part) && Catch::Contains("container main"));
  }
  CHECK_FALSE(RequestFromPod(json::array()).ok());
}

TEST_CASE("request: gpupool.io/locality node keeps the pod with its server, on the node it names") {
  json pod = PodWith(json::array({{{"name", "a"}, {"resources", {{"limits", {{"gpupool.io/gpu", "1"}}}}}}}));
  CHECK_FALSE((*RequestFromPod(pod))->node_local);
  pod["metadata"]["annotations"]["gpupool.io/locality"] = "any";
  CHECK_FALSE((*RequestFromPod(pod))->node_local);
  pod["metadata"]["annotations"]["gpupool.io/locality"] = "node";
  CHECK((*RequestFromPod(pod))->node_local);
  CHECK((*RequestFromPod(pod))->pinned_node.empty());
  pod["spec"]["nodeSelector"] = {{"kubernetes.io/hostname", "gpu-07"}, {"zone", "a"}};
  CHECK((*RequestFromPod(pod))->pinned_node == "gpu-07");
  pod["metadata"]["annotations"]["gpupool.io/locality"] = "rack";
  auto bad = RequestFromPod(pod);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::Contains("gpupool.io/locality is 'rack', must be node or any"));
}

TEST_CASE("request: memory per GPU defaults to the percent share") {
  CHECK(MemoryOnGpu(Request{1, 50, std::nullopt, false, ""}, 100ULL << 30) == 50ULL << 30);
  CHECK(MemoryOnGpu(Request{1, 50, 4, false, ""}, 100ULL << 30) == 4ULL << 30);
}

TEST_CASE("request: pool annotation") {
  CHECK(PoolOfPod(json{{"metadata", {{"annotations", {{"gpupool.io/pool", "fast"}}}}}}) == "fast");
  CHECK(PoolOfPod(json{{"metadata", json::object()}}).empty());
}

TEST_CASE("policy: names") {
  CHECK(ParsePolicy("").value() == Policy::kBinpack);
  CHECK(ParsePolicy("binpack").value() == Policy::kBinpack);
  CHECK(ParsePolicy("spread").value() == Policy::kSpread);
  CHECK(ParsePolicy("random").status().code() == Code::kInvalidArgument);
  CHECK(PolicyName(Policy::kSpread) == "spread");
}

TEST_CASE("policy: choose") {
  const std::vector<Candidate> gpus = {
      {"a:1", "GPU-a0", 100, 0, 0}, {"a:1", "GPU-a1", 40, 0, 0}, {"b:1", "GPU-b0", 70, 0, 0},
      {"b:1", "GPU-b1", 90, 0, 0},  {"c:1", "GPU-c0", 40, 0, 0},
  };
  struct Row {
    int count;
    Policy policy;
    std::vector<std::string> want;
  };
  const std::vector<Row> rows = {
      {1, Policy::kBinpack, {"GPU-a1"}},  // fullest, tie broken by server
      {1, Policy::kSpread, {"GPU-a0"}},
      {2, Policy::kBinpack, {"GPU-a1", "GPU-a0"}},  // one server; a: 140 free beats b: 160
      {2, Policy::kSpread, {"GPU-b1", "GPU-b0"}},
      {3, Policy::kBinpack, {}},  // five fit, but no server has three: never a mix of servers
      {3, Policy::kSpread, {}},
      {6, Policy::kBinpack, {}},
      {0, Policy::kBinpack, {}},
  };
  for (const Row& row : rows) {
    INFO(row.count << " " << PolicyName(row.policy));
    std::vector<std::string> got;
    for (std::size_t i : Choose(gpus, row.count, row.policy)) got.push_back(gpus[i].uuid);
    CHECK(got == row.want);
  }
}

}  // namespace
}  // namespace gpupool::placement
