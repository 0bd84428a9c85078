// Scenarios of ARCHITECTURE §4.2-4.3 against the fake API server and fake GPU servers.
#include <catch2/catch.hpp>

#include "common/binding/binding.h"
#include "tests/operator/scenario_env.h"

namespace gpupool::testing {
namespace {

// Every GPU's shares, summed from the pods' bindings: never over 100%.
void CheckNoDoubleBooking(ScenarioEnv& env) {
  std::map<std::string, int> percent;
  for (const Json& pod : env.api().List("pods", "team")) {
    const std::string a = AnnotationOf(pod);
    if (a.empty()) continue;
    auto b = BindingFromJson(a);
    REQUIRE(b.ok());
    for (const GpuBinding& g : b->gpus) percent[g.server + "/" + g.uuid] += g.percent;
  }
  for (const auto& [gpu, p] : percent) {
    INFO(gpu);
    CHECK(p <= 100);
  }
}

TEST_CASE("bind and release") {
  ScenarioEnv env;
  auto& server = env.AddServer("a", 2);
  env.CreatePool();
  auto op = env.StartOperator(/*leader_elect=*/false);
  const Json pod = env.CreatePod("train", 50);
  REQUIRE(WaitFor([&] { return !env.Gated("train"); }));
  auto binding = BindingFromJson(AnnotationOf(*env.Pod("train")));
  REQUIRE(binding.ok());
  CHECK(binding->pool == "default");
  REQUIRE(binding->gpus.size() == 1);
  CHECK(binding->gpus[0].server == env.DataAddress(0));
  CHECK(binding->gpus[0].percent == 50);
  CHECK(binding->gpus[0].memory_bytes == 50ULL << 30);
  REQUIRE(server.admissions().size() == 1);
  CHECK(server.admissions()[0].pod_uid() == pod["metadata"]["uid"]);
  CHECK(WaitFor([&] { return HasEvent(env, "train", "Bound"); }));  // written after the gate goes
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("boundPods", 0) == 1; }));

  REQUIRE(env.api().SetPodPhase("team", "train", "Succeeded").ok());
  REQUIRE(WaitFor([&] { return server.revokes().size() == 1; }));
  CHECK(server.revokes()[0].pod_uid() == pod["metadata"]["uid"]);
  CHECK(server.admissions().empty());
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("boundPods", -1) == 0; }));
  CHECK(env.Condition("default", "Ready") == "True");
  CHECK(env.PoolStatus()["observedGeneration"] == 1);
}

TEST_CASE("a pod's GPUs come from one server, admitted there together, or the pod waits") {
  ScenarioEnv env;
  auto& a = env.AddServer("a", 1);
  auto& b = env.AddServer("b", 2);
  env.AddServer("c", 1);
  env.CreatePool();
  auto op = env.StartOperator(false);
  // Three servers have four GPUs between them, only b two: a pod of two goes to b, in one Admit.
  const Json pair = env.CreatePod("pair", 100, 2);
  REQUIRE(WaitFor([&] { return !env.Gated("pair"); }));
  auto binding = BindingFromJson(AnnotationOf(*env.Pod("pair")));
  REQUIRE(binding.ok());
  REQUIRE(binding->gpus.size() == 2);
  CHECK(binding->gpus[0].server == env.DataAddress(1));
  CHECK(binding->gpus[1].server == env.DataAddress(1));
  CHECK(binding->gpus[0].uuid != binding->gpus[1].uuid);
  REQUIRE(b.admissions().size() == 1);
  CHECK(b.admissions()[0].pod_uid() == pair["metadata"]["uid"]);
  CHECK(b.admissions()[0].shares_size() == 2);
  CHECK(a.admissions().empty());
  // Two GPUs are still free, on a and on c: never a mix, so the next pair waits.
  env.CreatePod("apart", 100, 2);
  std::string message;
  REQUIRE(WaitFor([&] { return env.Condition("default", "CapacityAvailable", &message) == "False"; }));
  CHECK_THAT(message, Catch::Contains("team/apart"));
  CHECK(WaitFor([&] { return HasEvent(env, "apart", "NoCapacity"); }));
  CHECK(env.Gated("apart"));
  // Once b is free again, the waiting pair goes there.
  REQUIRE(env.api().Delete("pods", "team", "pair").ok());
  REQUIRE(WaitFor([&] { return !env.Gated("apart"); }));
  auto moved = BindingFromJson(AnnotationOf(*env.Pod("apart")));
  REQUIRE(moved.ok());
  CHECK(moved->gpus[0].server == env.DataAddress(1));
  CHECK(moved->gpus[1].server == env.DataAddress(1));
}

// gpupool.io/locality: node: the pod goes where its server is (spec.nodeSelector added while it is
// gated), so it reaches the server over the node-local socket; only servers whose node is known qualify,
// and a pod that names its node waits for a GPU there.
TEST_CASE("a node-local pod is pinned to its server's node, or waits for one") {
  ScenarioEnv env;
  env.AddServer("a", 1);  // listed by address only: its node is not known
  auto& b = env.AddServer("b", 1);
  env.CreatePool("default", "binpack", {"", "gpu-b"});
  auto op = env.StartOperator(false);
  const Json local = {{"gpupool.io/locality", "node"}};
  env.CreatePod("local", 50, 1, local);
  REQUIRE(WaitFor([&] { return !env.Gated("local"); }));
  const Json pod = *env.Pod("local");
  auto binding = BindingFromJson(AnnotationOf(pod));
  REQUIRE(binding.ok());
  CHECK(binding->gpus[0].server == env.DataAddress(1));
  CHECK(pod["spec"]["nodeSelector"] == Json{{"kubernetes.io/hostname", "gpu-b"}});
  CHECK(b.admissions().size() == 1);
  CHECK(WaitFor([&] { return HasEvent(env, "local", "Bound"); }));
  // A pod that already names another node waits: no server of a known node there.
  env.CreatePod("elsewhere", 10, 1, local, {{"nodeSelector", {{"kubernetes.io/hostname", "gpu-z"}}}});
  CHECK(WaitFor([&] { return HasEvent(env, "elsewhere", "NoCapacity"); }));
  CHECK(env.Gated("elsewhere"));
  std::string message;
  REQUIRE(WaitFor([&] { return env.Condition("default", "CapacityAvailable", &message) == "False"; }));
  // The same pod on gpu-b's own node fits beside the first.
  env.CreatePod("same-node", 50, 1, local, {{"nodeSelector", {{"kubernetes.io/hostname", "gpu-b"}}}});
  REQUIRE(WaitFor([&] { return !env.Gated("same-node"); }));
  CHECK(BindingFromJson(AnnotationOf(*env.Pod("same-node")))->gpus[0].server == env.DataAddress(1));
  // Without the annotation a pod goes anywhere, unpinned: here a's GPU, gpu-b's being full.
  env.CreatePod("anywhere", 100, 1);
  REQUIRE(WaitFor([&] { return !env.Gated("anywhere"); }));
  const Json anywhere = *env.Pod("anywhere");
  CHECK(BindingFromJson(AnnotationOf(anywhere))->gpus[0].server == env.DataAddress(0));
  CHECK_FALSE(anywhere["spec"].contains("nodeSelector"));
}

TEST_CASE("a full pool keeps pods gated and binds them when capacity frees") {
  ScenarioEnv env;
  env.AddServer("a", 1);
  env.CreatePool();
  auto op = env.StartOperator(false);
  env.CreatePod("first", 100);
  REQUIRE(WaitFor([&] { return !env.Gated("first"); }));
  env.CreatePod("second", 60);
  std::string message;
  REQUIRE(WaitFor([&] { return env.Condition("default", "CapacityAvailable", &message) == "False"; }));
  CHECK_THAT(message, Catch::Contains("team/second"));
  CHECK(env.Gated("second"));
  CHECK(HasEvent(env, "second", "NoCapacity"));
  CHECK(env.PoolStatus().value("pendingPods", 0) == 1);

  REQUIRE(env.api().Delete("pods", "team", "first").ok());
  REQUIRE(WaitFor([&] { return !env.Gated("second"); }));
  REQUIRE(WaitFor([&] { return env.Condition("default", "CapacityAvailable") == "True"; }));
  CheckNoDoubleBooking(env);
}

TEST_CASE("operator killed between annotation and gate removal: restart, no double booking") {
  ScenarioEnv env;
  auto& server = env.AddServer("a", 1);
  env.CreatePool();
  // What a crash leaves behind: the binding is written, the gate is still there, Admit maybe not.
  const Binding held{"default", {{env.DataAddress(0), "GPU-a-0", 70, 70ULL << 30}}};
  env.CreatePod("crashed", 70, 1, {{std::string(kBindingAnnotation), BindingToJson(held)}});
  env.CreatePod("newcomer", 70);
  auto op = env.StartOperator(false);
  REQUIRE(WaitFor([&] { return !env.Gated("crashed"); }));
  CHECK(AnnotationOf(*env.Pod("crashed")) == BindingToJson(held));  // adopted as it stood
  REQUIRE(server.admissions().size() == 1);
  REQUIRE(WaitFor([&] { return HasEvent(env, "newcomer", "NoCapacity"); }));
  CHECK(env.Gated("newcomer"));
  CHECK(AnnotationOf(*env.Pod("newcomer")).empty());
  CheckNoDoubleBooking(env);

  // And a second restart finds the same ledger.
  op.reset();
  auto again = env.StartOperator(false, "op-2");
  env.CreatePod("small", 30);
  REQUIRE(WaitFor([&] { return !env.Gated("small"); }));
  CHECK(env.Gated("newcomer"));
  CheckNoDoubleBooking(env);
}

TEST_CASE("admissions of pods deleted while no operator ran are revoked") {
  ScenarioEnv env;
  auto& server = env.AddServer("a", 1);
  env.CreatePool();
  control::v1::AdmitRequest ghost;
  ghost.set_pod_uid("uid-of-a-deleted-pod");
  ghost.set_pod_namespace("team");
  ghost.set_pod_name("gone");
  auto* share = ghost.add_shares();
  share->set_gpu_uuid("GPU-a-0");
  share->set_percent(100);
  REQUIRE(controllers::NewGrpcControlClient()->Admit(server.address(), ghost).ok());
  REQUIRE(server.admissions().size() == 1);
  auto op = env.StartOperator(false);
  REQUIRE(WaitFor([&] { return server.admissions().empty(); }));
  CHECK(server.revokes().at(0).pod_uid() == "uid-of-a-deleted-pod");
  env.CreatePod("next", 100);  // the share is usable again
  REQUIRE(WaitFor([&] { return !env.Gated("next"); }));
}

TEST_CASE("conflicts and API errors are retried") {
  ScenarioEnv env;
  env.AddServer("a", 4);
  env.CreatePool();
  auto op = env.StartOperator(false);
  env.api().FailNextRequests(3, 409, "patch");
  env.api().FailNextRequests(2, 500, "patch");
  for (int i = 0; i < 6; ++i) env.CreatePod("p" + std::to_string(i), 50);
  REQUIRE(WaitFor([&] {
    for (int i = 0; i < 6; ++i) {
      if (env.Gated("p" + std::to_string(i))) return false;
    }
    return true;
  }));
  CheckNoDoubleBooking(env);
}

TEST_CASE("watch expiry: the informers relist and binding goes on") {
  ScenarioEnv env;
  env.AddServer("a", 2);
  env.CreatePool();
  auto op = env.StartOperator(false);
  env.CreatePod("before", 50);
  REQUIRE(WaitFor([&] { return !env.Gated("before"); }));
  env.api().Compact();
  env.api().DropWatches();
  env.CreatePod("after", 50);
  REQUIRE(WaitFor([&] { return !env.Gated("after"); }));
  CheckNoDoubleBooking(env);
}

TEST_CASE("two operators, one leader, the other takes over") {
  ScenarioEnv env;
  env.AddServer("a", 2);
  env.CreatePool();
  auto one = env.StartOperator(true, "op-1");
  auto two = env.StartOperator(true, "op-2");
  REQUIRE(WaitFor([&] { return one->op->IsLeader() || two->op->IsLeader(); }));
  CHECK(one->op->IsLeader() != two->op->IsLeader());
  env.CreatePod("a", 40);
  REQUIRE(WaitFor([&] { return !env.Gated("a"); }));
  auto& leader = one->op->IsLeader() ? one : two;
  auto& standby = one->op->IsLeader() ? two : one;
  CHECK(standby->op->terms() == 0);
  leader.reset();  // stops and releases the lease
  REQUIRE(WaitFor([&] { return standby->op->IsLeader(); }));
  env.CreatePod("b", 40);
  REQUIRE(WaitFor([&] { return !env.Gated("b"); }));
  CheckNoDoubleBooking(env);
}

TEST_CASE("an unreachable server degrades the pool, the others keep working") {
  ScenarioEnv env;
  env.AddServer("a", 1);
  auto& b = env.AddServer("b", 1);
  env.CreatePool();
  auto op = env.StartOperator(false);
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 2; }));
  b.Stop();
  std::string message;
  REQUIRE(WaitFor([&] { return env.Condition("default", "Degraded", &message) == "True"; }));
  CHECK_THAT(message, Catch::StartsWith("unreachable: " + env.DataAddress(1) + " (since "));
  CHECK(env.PoolStatus()["gpuCount"] == 2);
  CHECK(env.PoolStatus()["healthyGPUs"] == 1);
  env.CreatePod("x", 100);
  REQUIRE(WaitFor([&] { return !env.Gated("x"); }));
  CHECK(BindingFromJson(AnnotationOf(*env.Pod("x")))->gpus[0].uuid == "GPU-a-0");
  b.Start();
  REQUIRE(WaitFor([&] { return env.Condition("default", "Degraded") == "False"; }));
}

TEST_CASE("foreign edits and malformed bindings are reported, never trusted") {
  ScenarioEnv env;
  env.AddServer("a", 2);
  env.CreatePool();
  auto op = env.StartOperator(false);
  env.CreatePod("mine", 60);
  REQUIRE(WaitFor([&] { return !env.Gated("mine"); }));
  const std::string original = AnnotationOf(*env.Pod("mine"));
  // Someone moves the pod to the other GPU by hand.
  Json pod = *env.Pod("mine");
  auto edited = BindingFromJson(original);
  edited->gpus[0].uuid = edited->gpus[0].uuid == "GPU-a-0" ? "GPU-a-1" : "GPU-a-0";
  pod["metadata"]["annotations"][std::string(kBindingAnnotation)] = BindingToJson(*edited);
  REQUIRE(env.api().Update("pods", pod).ok());
  REQUIRE(WaitFor([&] { return HasEvent(env, "mine", "BindingEdited"); }));
  REQUIRE(WaitFor([&] { return AnnotationOf(*env.Pod("mine")) == original; }));

  // A gated pod arriving with garbage in the annotation is bound afresh.
  env.CreatePod("garbage", 30, 1, {{std::string(kBindingAnnotation), "{not json"}});
  REQUIRE(WaitFor([&] { return !env.Gated("garbage"); }));
  CHECK(HasEvent(env, "garbage", "BindingInvalid"));
  CHECK(BindingFromJson(AnnotationOf(*env.Pod("garbage"))).ok());
  CheckNoDoubleBooking(env);
}

}  // namespace
}  // namespace gpupool::testing
