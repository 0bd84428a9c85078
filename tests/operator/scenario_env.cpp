#include "tests/operator/scenario_env.h"

#include <thread>

#include "common/binding/binding.h"
#include "common/kube/config.h"

namespace gpupool::testing {

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling interval, not a wait for an event
  }
  return true;
}

std::string AnnotationOf(const Json& pod) {
  return pod.value("metadata", Json::object())
      .value("annotations", Json::object())
      .value(std::string(kBindingAnnotation), std::string());
}

bool HasEvent(ScenarioEnv& env, const std::string& object, const std::string& reason) {
  for (const Json& e : env.EventsFor(object)) {
    if (e.value("reason", std::string()) == reason) return true;
  }
  return false;
}

ScenarioEnv::ScenarioEnv() {
  auto api = FakeApiServer::Start();
  if (!api.ok()) throw std::runtime_error("fake API server: " + api.status().ToString());
  api_ = std::move(*api);
}

ScenarioEnv::~ScenarioEnv() = default;

FakeControlServer& ScenarioEnv::AddServer(const std::string& tag, int gpus, std::uint64_t memory_gib) {
  auto server = std::make_unique<FakeControlServer>();
  control::v1::Inventory inv;
  inv.set_server_id("fake-" + tag);
  inv.set_version("test");
  inv.set_device_kind("emulated");
  for (int i = 0; i < gpus; ++i) *inv.add_gpus() = FakeControlServer::MakeGpu(tag, i, memory_gib << 30);
  server->SetInventory(inv);
  server->Start();
  servers_.push_back(std::move(server));
  return *servers_.back();
}

std::string ScenarioEnv::DataAddress(std::size_t i) const {
  return "127.0.0.1:" + std::to_string(20000 + i);
}

void ScenarioEnv::CreatePool(const std::string& name, const std::string& policy,
                             const std::vector<std::string>& nodes) {
  Json servers = Json::array();
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    servers.push_back({{"address", DataAddress(i)}, {"controlAddress", servers_[i]->address()}});
    if (i < nodes.size() && !nodes[i].empty()) servers.back()["node"] = nodes[i];
  }
  auto created = api_->Create("gpupools", "",
                              {{"apiVersion", "gpupool.io/v1alpha1"},
                               {"kind", "GPUPool"},
                               {"metadata", {{"name", name}}},
                               {"spec", {{"default", true}, {"policy", policy}, {"servers", servers}}}});
  if (!created.ok()) throw std::runtime_error("create GPUPool: " + created.status().ToString());
}

Json ScenarioEnv::CreatePod(const std::string& name, int percent, int gpus, const Json& annotations,
                            const Json& spec) {
  Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", "team"}, {"annotations", annotations}}},
      {"spec",
       {{"schedulingGates", Json::array({{{"name", kSchedulingGate}}})},
        {"containers", Json::array({{{"name", "main"},
                                     {"image", "app"},
                                     {"resources",
                                      {{"limits",
                                        {{"gpupool.io/gpu", std::to_string(gpus)},
                                         {"gpupool.io/gpu-percent", std::to_string(percent)}}}}}}})}}}};
  pod["spec"].update(spec);
  auto created = api_->Create("pods", "team", pod);
  if (!created.ok()) throw std::runtime_error("create pod: " + created.status().ToString());
  return *created;
}

std::unique_ptr<RunningOperator> ScenarioEnv::StartOperator(
    bool leader_elect, const std::string& identity,
    const std::function<void(controllers::OperatorOptions&)>& tune) {
  auto r = std::make_unique<RunningOperator>();
  auto config = kube::ParseKubeconfig(api_->Kubeconfig(), "");
  if (!config.ok()) throw std::runtime_error("kubeconfig: " + config.status().ToString());
  auto client = kube::RestClient::Create(*config);
  if (!client.ok()) throw std::runtime_error("client: " + client.status().ToString());
  r->client = std::move(*client);
  r->control = controllers::NewGrpcControlClient({std::chrono::milliseconds(500), std::chrono::seconds(2)});
  r->metrics = std::make_unique<metrics::OperatorMetrics>();
  controllers::OperatorOptions o;
  o.leader_elect = leader_elect;
  o.election.lease_namespace = "gpupool";
  o.election.identity = identity;
  o.election.lease_duration = std::chrono::milliseconds(1500);
  o.election.renew_deadline = std::chrono::milliseconds(1000);
  o.election.retry_period = std::chrono::milliseconds(200);
  o.pool.probe_interval = std::chrono::milliseconds(300);
  o.pool.unhealthy_after = std::chrono::milliseconds(1500);
  o.binder.pending_retry = std::chrono::seconds(2);
  if (tune) tune(o);
  r->op = std::make_unique<controllers::Operator>(*r->client, *r->control, *r->metrics, o);
  Status s = r->op->Start(std::chrono::seconds(20));
  if (!s.ok()) throw std::runtime_error("operator: " + s.ToString());
  return r;
}

std::optional<Json> ScenarioEnv::Pod(const std::string& name) {
  auto pod = api_->Get("pods", "team", name);
  if (!pod.ok()) return std::nullopt;
  return *pod;
}

bool ScenarioEnv::Gated(const std::string& name) {
  auto pod = Pod(name);
  if (!pod) return false;
  for (const Json& g : pod->value("spec", Json::object()).value("schedulingGates", Json::array())) {
    if (g.value("name", std::string()) == kSchedulingGate) return true;
  }
  return false;
}

Json ScenarioEnv::PoolStatus(const std::string& name) {
  auto pool = api_->Get("gpupools", "", name);
  return pool.ok() ? pool->value("status", Json::object()) : Json::object();
}

std::vector<Json> ScenarioEnv::EventsFor(const std::string& name) {
  std::vector<Json> out;
  for (const Json& e : api_->List("events")) {
    if (e.value("involvedObject", Json::object()).value("name", std::string()) == name) out.push_back(e);
  }
  return out;
}

std::string ScenarioEnv::Condition(const std::string& pool, const std::string& type, std::string* message) {
  for (const Json& c : PoolStatus(pool).value("conditions", Json::array())) {
    if (c.value("type", std::string()) == type) {
      if (message) *message = c.value("message", std::string());
      return c.value("status", std::string());
    }
  }
  return "";
}

}  // namespace gpupool::testing
