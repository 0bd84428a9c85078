// ScenarioEnv: a fake API server, fake GPU servers and gpupool operators in one process, for the
// operator.scenario.* tests and the benchmark. Waiting is on observed state with a deadline
// (WaitFor), never on a fixed sleep.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/kube/rest_client.h"
#include "operator/controllers/operator.h"
#include "operator/metrics/operator_metrics.h"
#include "tests/support/fake_apiserver/fake_apiserver.h"
#include "tests/support/fake_control_server.h"

namespace gpupool::testing {

using Json = nlohmann::json;

// Polls `done` until it is true or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(20));

struct RunningOperator {
  std::unique_ptr<kube::RestClient> client;
  std::unique_ptr<controllers::ControlClient> control;
  std::unique_ptr<metrics::OperatorMetrics> metrics;
  std::unique_ptr<controllers::Operator> op;
};

// The pod's gpupool.io/binding annotation ("" when absent).
std::string AnnotationOf(const Json& pod);

class ScenarioEnv;
// Whether an Event with `reason` was recorded on the object named `object`.
bool HasEvent(ScenarioEnv& env, const std::string& object, const std::string& reason);

class ScenarioEnv {
 public:
  ScenarioEnv();
  ~ScenarioEnv();

  FakeApiServer& api() { return *api_; }
  // A fake GPU server with `gpus` GPUs of `memory_gib` GiB (uuids GPU-<tag>-<i>), started.
  FakeControlServer& AddServer(const std::string& tag, int gpus, std::uint64_t memory_gib = 100);
  // Data address the pool lists for server `i` (its Control address is set explicitly).
  std::string DataAddress(std::size_t i) const;
  // Creates GPUPool `name` (default, `policy`) over every server added so far; `nodes[i]`, when
  // given and not empty, is server i's node (spec.servers[].node).
  void CreatePool(const std::string& name = "default", const std::string& policy = "binpack",
                  const std::vector<std::string>& nodes = {});
  // Creates a pod as the webhook leaves it: gated, asking `gpus` GPUs at `percent` each; `spec` is
  // merged into its spec.
  Json CreatePod(const std::string& name, int percent, int gpus = 1, const Json& annotations = Json::object(),
                 const Json& spec = Json::object());

  // An operator with short leader-election timings and probe interval; leader election on or off.
  // `tune` may change the options before the operator starts (the benchmark does).
  std::unique_ptr<RunningOperator> StartOperator(
      bool leader_elect, const std::string& identity = "op-1",
      const std::function<void(controllers::OperatorOptions&)>& tune = {});

  std::optional<Json> Pod(const std::string& name);
  bool Gated(const std::string& name);
  Json PoolStatus(const std::string& name = "default");
  std::vector<Json> EventsFor(const std::string& name);
  std::string Condition(const std::string& pool, const std::string& type, std::string* message = nullptr);

 private:
  std::unique_ptr<FakeApiServer> api_;
  std::vector<std::unique_ptr<FakeControlServer>> servers_;
};

}  // namespace gpupool::testing
