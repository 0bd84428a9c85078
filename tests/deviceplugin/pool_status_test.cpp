// Reading GPUPool objects: healthy GPUs and the default pool.
#include "deviceplugin/pool_status.h"

#include <catch2/catch.hpp>

namespace gpupool::deviceplugin {
namespace {

TEST_CASE("a pool is healthy when status lists at least one healthy GPU") {
  struct Case {
    const char* json;
    bool ok;
    bool healthy;
  };
  const std::vector<Case> cases = {
      {R"({"status":{"gpus":[{"healthy":false},{"healthy":true}]}})", true, true},
      {R"({"status":{"gpus":[{"healthy":false}]}})", true, false},
      // As the operator writes it once a server failed (docs/operator.md "A GPU server fails").
      {R"({"status":{"servers":[{"address":"b:7470","reachable":false,"healthy":false,
           "unreachableSince":"2026-12-06T15:40:01Z"}],
          "gpus":[{"server":"b:7470","uuid":"GPU-b-0","healthy":false,"lastTransitionTime":"2026-12-06T15:40:21Z",
           "message":"server unreachable since 2026-12-06T15:40:01Z: connection refused"}]}})",
       true, false},
      {R"({"status":{"gpus":[{"uuid":"GPU-1"}]}})", true, false},
      {R"({"status":{"gpus":[]}})", true, false},
      {R"({"status":{}})", true, false},
      {R"({"spec":{}})", true, false},
      {R"({"status":{"gpus":[{"healthy":"true"}]}})", true, false},  // not a boolean: not healthy
      {R"({"status":{"gpus":{}}})", false, false},
      {R"({"status":[]})", false, false},
      {R"({"status":{"gpus":[1]}})", false, false},
      {R"([])", false, false},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    auto r = AnyHealthyGpu(nlohmann::json::parse(c.json));
    REQUIRE(r.ok() == c.ok);
    if (c.ok) CHECK(*r == c.healthy);
  }
}

TEST_CASE("the default pool is the item with spec.default true") {
  auto list = nlohmann::json::parse(
      R"({"items":[{"metadata":{"name":"a"},"spec":{}},{"metadata":{"name":"b"},"spec":{"default":true}}]})");
  auto name = DefaultPoolName(list);
  REQUIRE(name.ok());
  CHECK(*name == "b");
  CHECK(DefaultPoolName(nlohmann::json::parse(R"({"items":[{"metadata":{"name":"a"}}]})")).status().code() ==
        Code::kNotFound);
  CHECK(DefaultPoolName(nlohmann::json::parse(R"({"kind":"Status"})")).status().code() ==
        Code::kInvalidArgument);
}

}  // namespace
}  // namespace gpupool::deviceplugin
