// A GPU server that stops answering (issue 6 item 7): the operator marks its GPUs unhealthy in
// GPUPool.status, stops placing pods there, and records Events on the pods that held shares and on
// the pool; when the server answers again its GPUs turn healthy, with Events. The device plugin's
// pool-health reading (--pool-health=gpupool) is checked on the status the operator wrote.
#include <catch2/catch.hpp>
#include <cstdio>

#include "common/binding/binding.h"
#include "deviceplugin/pool_status.h"
#include "tests/operator/scenario_env.h"

namespace gpupool::testing {
namespace {

using namespace std::chrono_literals;

std::vector<Json> EventsWith(ScenarioEnv& env, const std::string& object, const std::string& reason) {
  std::vector<Json> out;
  for (const Json& e : env.EventsFor(object)) {
    if (e.value("reason", std::string()) == reason) out.push_back(e);
  }
  return out;
}

const Json& Entry(const Json& list, const char* key, const std::string& value) {
  for (const Json& item : list) {
    if (item.value(key, std::string()) == value) return item;
  }
  FAIL("no entry with " << key << " " << value << " in " << list.dump());
  static const Json kNull;
  return kNull;
}

bool PluginSeesHealthyGpu(ScenarioEnv& env) {
  auto healthy = deviceplugin::AnyHealthyGpu(*env.api().Get("gpupools", "", "default"));
  REQUIRE(healthy.ok());
  return *healthy;
}

std::string GpuOf(ScenarioEnv& env, const std::string& pod) {
  auto binding = BindingFromJson(AnnotationOf(*env.Pod(pod)));
  REQUIRE(binding.ok());
  return binding->gpus.at(0).uuid;
}

TEST_CASE("a server that stops answering: GPUs unhealthy, Events on its pods, then healthy again") {
  ScenarioEnv env;
  auto& a = env.AddServer("a", 1);
  auto& b = env.AddServer("b", 1);
  env.CreatePool();
  const auto unhealthy_after = 1500ms;
  auto op = env.StartOperator(
      false, "op-1", [&](controllers::OperatorOptions& o) { o.pool.unhealthy_after = unhealthy_after; });
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 2; }));
  for (auto [name, percent] : {std::pair{"on-a", 100}, {"on-b", 60}, {"also-b", 30}}) {
    env.CreatePod(name, percent);
    REQUIRE(WaitFor([&] { return !env.Gated(name); }));
  }
  REQUIRE(GpuOf(env, "on-a") == "GPU-a-0");
  REQUIRE(GpuOf(env, "on-b") == "GPU-b-0");
  REQUIRE(GpuOf(env, "also-b") == "GPU-b-0");
  const std::string lost_server = env.DataAddress(1);

  b.Stop();
  const auto stopped = std::chrono::steady_clock::now();
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 1; }));
  const auto marked =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stopped);
  std::printf(
      "server stopped -> GPUs unhealthy in GPUPool.status: %lld ms (unhealthy_after %lld ms, probe "
      "interval 300 ms, probe deadline 500 ms)\n",
      static_cast<long long>(marked.count()), static_cast<long long>(unhealthy_after.count()));
  // Not before its grace ran out: measured from the last answer, at most one probe interval before the stop.
  CHECK(marked >= unhealthy_after - 300ms);

  const Json status = env.PoolStatus();
  const Json& server = Entry(status["servers"], "address", lost_server);
  CHECK(server["reachable"] == false);
  CHECK(server["healthy"] == false);
  const std::string since = server.value("unreachableSince", std::string());
  CHECK_FALSE(since.empty());
  const Json& gpu = Entry(status["gpus"], "uuid", "GPU-b-0");
  CHECK(gpu["healthy"] == false);
  CHECK_THAT(gpu.value("message", std::string()), Catch::StartsWith("server unreachable since " + since));
  CHECK_FALSE(gpu.value("lastTransitionTime", std::string()).empty());
  CHECK(gpu["pods"] == 2);  // the shares keep counting
  CHECK(Entry(status["gpus"], "uuid", "GPU-a-0")["healthy"] == true);
  std::string degraded;
  CHECK(env.Condition("default", "Degraded", &degraded) == "True");
  CHECK(degraded == "unreachable: " + lost_server + " (since " + since + ")");
  CHECK(env.Condition("default", "Ready") == "True");
  CHECK(PluginSeesHealthyGpu(env));

  // Events: on every pod that held a share there, once, and on the pool; none on the other pod.
  const std::string lost =
      "lost its GPU: server " + lost_server + " unreachable since " + since + " (GPU-b-0)";
  for (const char* name : {"on-b", "also-b"}) {
    INFO(name);
    auto events = EventsWith(env, name, "GPULost");
    REQUIRE(events.size() == 1);
    CHECK(events[0]["type"] == "Warning");
    CHECK(events[0]["message"] == lost);
    CHECK(events[0]["count"] == 1);
    CHECK(events[0]["involvedObject"]["uid"] == env.Pod(name)->at("metadata").at("uid"));
  }
  CHECK(EventsWith(env, "on-a", "GPULost").empty());
  auto pool_events = EventsWith(env, "default", "ServerUnreachable");
  REQUIRE(pool_events.size() == 1);
  CHECK_THAT(pool_events[0]["message"].get<std::string>(),
             Catch::EndsWith("GPUs GPU-b-0 unhealthy; pods holding shares: team/also-b, team/on-b"));

  // Nothing new lands on the failed server: this pod fits only there.
  env.CreatePod("small", 10);
  REQUIRE(WaitFor([&] { return HasEvent(env, "small", "NoCapacity"); }));
  CHECK(env.Gated("small"));

  // Every server silent: the device plugin sees no healthy GPU (its devices turn unhealthy).
  a.Stop();
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", -1) == 0; }));
  CHECK(env.Condition("default", "Ready") == "False");
  CHECK_FALSE(PluginSeesHealthyGpu(env));
  REQUIRE(WaitFor([&] { return HasEvent(env, "on-a", "GPULost"); }));

  // Back: healthy again, with Events, and the waiting pod is bound to the returned GPU.
  a.Start();
  b.Start();
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 2; }));
  REQUIRE(WaitFor([&] { return env.Condition("default", "Degraded") == "False"; }));
  CHECK(PluginSeesHealthyGpu(env));
  const Json back = env.PoolStatus();
  CHECK(Entry(back["servers"], "address", lost_server)["healthy"] == true);
  CHECK_FALSE(Entry(back["servers"], "address", lost_server).contains("unreachableSince"));
  CHECK_FALSE(Entry(back["gpus"], "uuid", "GPU-b-0").contains("message"));
  for (const char* name : {"on-b", "also-b", "on-a"}) {
    INFO(name);
    auto events = EventsWith(env, name, "GPURecovered");
    REQUIRE(events.size() == 1);
    CHECK(events[0]["type"] == "Normal");
  }
  CHECK(EventsWith(env, "default", "ServerRecovered").size() == 2);
  REQUIRE(WaitFor([&] { return !env.Gated("small"); }));
  CHECK(GpuOf(env, "small") == "GPU-b-0");
}

TEST_CASE("a server silent for less than unhealthy_after keeps its GPUs healthy") {
  ScenarioEnv env;
  env.AddServer("a", 1);
  auto& b = env.AddServer("b", 1);
  env.CreatePool();
  auto op =
      env.StartOperator(false, "op-1", [](controllers::OperatorOptions& o) { o.pool.unhealthy_after = 1h; });
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 2; }));
  env.CreatePod("first", 100);
  env.CreatePod("second", 100);  // one on each server
  REQUIRE(WaitFor([&] { return !env.Gated("first") && !env.Gated("second"); }));
  b.Stop();
  std::string message;
  // Seen not answering (the grace period is reported), GPUs kept, no Events.
  REQUIRE(WaitFor([&] {
    return env.Condition("default", "Degraded", &message) == "False" &&
           message.find("not answering") != std::string::npos;
  }));
  CHECK_THAT(message, Catch::Contains(env.DataAddress(1)));
  CHECK(env.PoolStatus()["healthyGPUs"] == 2);
  CHECK(Entry(env.PoolStatus()["servers"], "address", env.DataAddress(1))["reachable"] == false);
  CHECK(Entry(env.PoolStatus()["servers"], "address", env.DataAddress(1))["healthy"] == true);
  CHECK_FALSE(HasEvent(env, "first", "GPULost"));
  CHECK_FALSE(HasEvent(env, "second", "GPULost"));
  CHECK_FALSE(HasEvent(env, "default", "ServerUnreachable"));
}

}  // namespace
}  // namespace gpupool::testing

namespace gpupool::testing {
namespace {

control::v1::Inventory WithGpuHealth(const FakeControlServer& server, bool healthy, const std::string& why) {
  control::v1::Inventory inv = server.inventory();
  inv.mutable_gpus(0)->set_healthy(healthy);
  inv.mutable_gpus(0)->set_health_message(why);
  return inv;
}

TEST_CASE("a server that hangs fails like a dead one, a GPU its server reports unhealthy is lost too") {
  ScenarioEnv env;
  auto& a = env.AddServer("a", 1);
  auto& b = env.AddServer("b", 1);
  env.CreatePool();
  auto op = env.StartOperator(false, "op-1",
                              [](controllers::OperatorOptions& o) { o.pool.unhealthy_after = 1500ms; });
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 2; }));
  env.CreatePod("x", 100);
  REQUIRE(WaitFor([&] { return !env.Gated("x"); }));
  env.CreatePod("y", 100);
  REQUIRE(WaitFor([&] { return !env.Gated("y"); }));
  REQUIRE(GpuOf(env, "x") == "GPU-a-0");
  REQUIRE(GpuOf(env, "y") == "GPU-b-0");

  // Connections accepted, no answers: every probe runs into its deadline.
  // Events are written before the status that reports the change: wait on the status, then look.
  b.SetHang(true);
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 1; }));
  CHECK(HasEvent(env, "y", "GPULost"));
  const Json hung = Entry(env.PoolStatus()["servers"], "address", env.DataAddress(1));
  CHECK(hung["healthy"] == false);
  CHECK_THAT(hung.value("message", std::string()), Catch::Contains("GetInventory"));
  CHECK_FALSE(HasEvent(env, "x", "GPULost"));
  b.SetHang(false);
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 2; }));
  CHECK(HasEvent(env, "y", "GPURecovered"));

  // The server answers but reports its GPU unhealthy: no grace period, the server's reason is shown.
  a.SetInventory(WithGpuHealth(a, false, "Xid 79: GPU has fallen off the bus"));
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 1; }));
  REQUIRE(HasEvent(env, "x", "GPULost"));
  const Json sick = Entry(env.PoolStatus()["gpus"], "uuid", "GPU-a-0");
  CHECK(sick["healthy"] == false);
  CHECK(sick["message"] == "reported unhealthy by its server: Xid 79: GPU has fallen off the bus");
  CHECK(EventsWith(env, "x", "GPULost")[0]["message"] ==
        "lost its GPU: GPU-a-0 on server " + env.DataAddress(0) +
            " reported unhealthy by its server (Xid 79: GPU has fallen off the bus) (GPU-a-0)");
  std::string degraded;
  CHECK(env.Condition("default", "Degraded", &degraded) == "True");
  CHECK(degraded == "unhealthy GPUs: GPU-a-0 on " + env.DataAddress(0));
  CHECK(HasEvent(env, "default", "GPUUnhealthy"));
  a.SetInventory(WithGpuHealth(a, true, ""));
  REQUIRE(WaitFor([&] { return env.PoolStatus().value("healthyGPUs", 0) == 2; }));
  CHECK(HasEvent(env, "x", "GPURecovered"));
  CHECK(HasEvent(env, "default", "GPUHealthy"));
  CHECK(env.Condition("default", "Degraded") == "False");
}

}  // namespace
}  // namespace gpupool::testing
