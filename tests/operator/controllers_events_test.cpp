// EventRecorder against the fake API server: repeats aggregate into one core/v1 Event (count,
// lastTimestamp) as client-go's recorders do, and kubectl describe shows them as "(xN over ...)".
#include <catch2/catch.hpp>
#include <fstream>

#include "operator/controllers/events.h"
#include "tests/operator/client_tools.h"
#include "tests/operator/kube_test_util.h"

namespace gpupool::testing {
namespace {

using Json = nlohmann::json;
using controllers::EventOptions;
using controllers::EventRecorder;
using namespace std::chrono_literals;

std::vector<Json> EventsWith(const FakeApiServer& server, const std::string& reason) {
  std::vector<Json> out;
  for (const Json& e : server.List("events", "team")) {
    if (e.value("reason", std::string()) == reason) out.push_back(e);
  }
  return out;
}

TEST_CASE("repeats count into one Event, other messages get their own") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  const Json pod = *server->Create("pods", "team", TestPod("p", "team"));
  EventRecorder events(*client, "op-1", EventOptions{10min, 0ms});
  for (int i = 0; i < 3; ++i)
    events.Record(kube::Pods(), pod, "Warning", "NoCapacity", "no GPU has 60% free");
  events.Record(kube::Pods(), pod, "Warning", "NoCapacity", "no GPU has 70% free");
  const std::vector<Json> stored = EventsWith(*server, "NoCapacity");
  REQUIRE(stored.size() == 2);
  const Json& e = stored[0]["message"] == "no GPU has 60% free" ? stored[0] : stored[1];
  CHECK(e["count"] == 3);
  CHECK(e["type"] == "Warning");
  CHECK(e["involvedObject"]["uid"] == pod["metadata"]["uid"]);
  CHECK(e["involvedObject"]["kind"] == "Pod");
  CHECK(e["metadata"]["name"].get<std::string>().rfind("p.", 0) == 0);
  CHECK_FALSE(e["firstTimestamp"].get<std::string>().empty());
  CHECK(e["lastTimestamp"].get<std::string>() >= e["firstTimestamp"].get<std::string>());
  CHECK(events.written() == 4);  // two creations, two count updates
}

TEST_CASE("repeats are written at most every min_update, FlushDue writes what is due") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  const Json pod = *server->Create("pods", "team", TestPod("p", "team"));
  EventRecorder slow(*client, "op-1", EventOptions{10min, 1h});
  for (int i = 0; i < 3; ++i) slow.Record(kube::Pods(), pod, "Warning", "Slow", "m");
  slow.FlushDue();
  REQUIRE(EventsWith(*server, "Slow").size() == 1);
  CHECK(EventsWith(*server, "Slow")[0]["count"] == 1);  // counted, not yet due

  EventRecorder soon(*client, "op-1", EventOptions{10min, 50ms});
  for (int i = 0; i < 3; ++i) soon.Record(kube::Pods(), pod, "Warning", "Soon", "m");
  CHECK(Eventually([&] {
    soon.FlushDue();
    auto e = EventsWith(*server, "Soon");
    return e.size() == 1 && e[0]["count"] == 3;
  }));
}

TEST_CASE("an Event deleted meanwhile (TTL) is created afresh with the count") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  const Json pod = *server->Create("pods", "team", TestPod("p", "team"));
  EventRecorder events(*client, "op-1", EventOptions{10min, 0ms});
  events.Record(kube::Pods(), pod, "Normal", "Bound", "bound");
  const std::string first = EventsWith(*server, "Bound")[0]["metadata"]["name"];
  REQUIRE(server->Delete("events", "team", first).ok());
  events.Record(kube::Pods(), pod, "Normal", "Bound", "bound");
  const std::vector<Json> stored = EventsWith(*server, "Bound");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0]["metadata"]["name"] != first);
  CHECK(stored[0]["count"] == 2);
}

TEST_CASE("kubectl describe shows the aggregated Event", "[kubectl]") {
  const std::string kubectl = FindOnPath("kubectl");
  if (kubectl.empty()) {
    WARN("SKIPPED: kubectl is not on PATH");
    return;
  }
  auto server = StartFake();
  auto client = ClientFor(*server);
  const Json pod = *server->Create("pods", "team", TestPod("lost", "team"));
  EventRecorder events(*client, "op-1", EventOptions{10min, 0ms});
  for (int i = 0; i < 3; ++i) {
    events.Record(kube::Pods(), pod, "Warning", "GPULost", "lost its GPU: server gpu-2:7470 unreachable");
  }
  TempDir dir;
  std::ofstream(dir.File("kubeconfig")) << server->Kubeconfig();
  auto out = Run({kubectl, "--kubeconfig", dir.File("kubeconfig"), "--cache-dir", dir.File("cache"), "-n",
                  "team", "describe", "pod", "lost"});
  REQUIRE(out.ok());
  INFO(*out);
  CHECK_THAT(*out, Catch::Contains("GPULost"));
  CHECK_THAT(*out, Catch::Contains("(x3 over"));
  CHECK_THAT(*out, Catch::Contains("lost its GPU: server gpu-2:7470 unreachable"));
}

}  // namespace
}  // namespace gpupool::testing
