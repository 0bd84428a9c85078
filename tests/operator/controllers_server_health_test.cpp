// ServerHealth (when a silent server fails) and HealthNotices (the Events a health change calls for).
#include <catch2/catch.hpp>

#include "operator/controllers/health_notices.h"
#include "operator/controllers/server_health.h"

namespace gpupool::controllers {
namespace {

using namespace std::chrono_literals;
using Clock = ServerHealth::Clock;

TEST_CASE("server health: failed only after unhealthy_after without an answer") {
  ServerHealth health(20s);
  const Clock::time_point t0{};
  CHECK_FALSE(health.Observe("a:7470", true, t0, "T0", {}).failed);
  auto v = health.Observe("a:7470", false, t0 + 5s, "T5", {});
  CHECK_FALSE(v.failed);
  CHECK(v.since == "T5");
  CHECK(v.recheck == 15s);  // when its grace ends, counted from the last answer
  v = health.Observe("a:7470", false, t0 + 19s, "T19", {});
  CHECK_FALSE(v.failed);
  CHECK(v.since == "T5");  // the silence started at the first failed probe
  CHECK(v.recheck == 1s);
  v = health.Observe("a:7470", false, t0 + 20s, "T20", {});
  CHECK(v.failed);
  CHECK(v.since == "T5");
  CHECK(v.recheck == 0ms);
  v = health.Observe("a:7470", true, t0 + 30s, "T30", {});
  CHECK_FALSE(v.failed);
  CHECK(v.recovered);
  CHECK(v.since.empty());
  v = health.Observe("a:7470", true, t0 + 31s, "T31", {});
  CHECK_FALSE(v.recovered);  // only once
  // A new silence gets a new grace period and a new since.
  v = health.Observe("a:7470", false, t0 + 40s, "T40", {});
  CHECK_FALSE(v.failed);
  CHECK(v.since == "T40");
}

TEST_CASE("server health: a new term keeps what the last leader published") {
  ServerHealth health(20s);
  const Clock::time_point t0{};
  // Published failed: failed at once, since as published; answering is a recovery.
  auto v = health.Observe("b:7470", false, t0, "NOW", {true, "EARLIER"});
  CHECK(v.failed);
  CHECK(v.since == "EARLIER");
  CHECK(health.Observe("b:7470", true, t0 + 1s, "NOW", {true, "EARLIER"}).recovered);
  // Published healthy but silent since EARLIER: the grace starts with this term.
  v = health.Observe("c:7470", false, t0, "NOW", {false, "EARLIER"});
  CHECK_FALSE(v.failed);
  CHECK(v.since == "EARLIER");
  CHECK(v.recheck == 20s);
  // Never seen answering and never published: silent from its first probe.
  v = health.Observe("d:7470", false, t0, "NOW", {});
  CHECK_FALSE(v.failed);
  CHECK(health.Observe("d:7470", false, t0 + 20s, "LATER", {}).failed);
}

placement::GpuUsage Gpu(const std::string& server, const std::string& uuid, bool healthy) {
  placement::GpuUsage u;
  u.gpu = {server, uuid, "NVIDIA H200", 100ULL << 30, healthy, ""};
  return u;
}

TEST_CASE("health notices: a failed server, its pods, and its return") {
  ServerProbe a{{"a:7470", "a:7471", ""}, true, "", {}, false, false, ""};
  ServerProbe b{{"b:7470", "b:7471", ""}, false, "connection refused", {}, true, false,
                "2026-12-06T10:00:00Z"};
  const std::vector<placement::GpuUsage> up = {Gpu("a:7470", "GPU-a-0", true), Gpu("b:7470", "GPU-b-0", true),
                                               Gpu("b:7470", "GPU-b-1", true)};
  const std::vector<placement::GpuUsage> down = {
      Gpu("a:7470", "GPU-a-0", true), Gpu("b:7470", "GPU-b-0", false), Gpu("b:7470", "GPU-b-1", false)};
  const std::vector<ShareHolder> holders = {
      {{"team", "both", "u1"}, Binding{"p", {{"b:7470", "GPU-b-0", 50, 1}, {"b:7470", "GPU-b-1", 50, 1}}}},
      {{"team", "safe", "u2"}, Binding{"p", {{"a:7470", "GPU-a-0", 50, 1}}}},
      {{"team", "one", "u3"}, Binding{"p", {{"b:7470", "GPU-b-1", 50, 1}}}}};

  CHECK(HealthNotices(up, up, {a, b}, holders).empty());
  const auto lost = HealthNotices(up, down, {a, b}, holders);
  REQUIRE(lost.size() == 3);
  CHECK(lost[0].on_pod);
  CHECK(lost[0].pod.name == "both");
  CHECK(lost[0].type == "Warning");
  CHECK(lost[0].reason == "GPULost");
  CHECK(lost[0].message ==
        "lost its GPU: server b:7470 unreachable since 2026-12-06T10:00:00Z (GPU-b-0, GPU-b-1)");
  CHECK(lost[1].pod.name == "one");
  CHECK(lost[1].message == "lost its GPU: server b:7470 unreachable since 2026-12-06T10:00:00Z (GPU-b-1)");
  CHECK_FALSE(lost[2].on_pod);
  CHECK(lost[2].reason == "ServerUnreachable");
  CHECK(lost[2].message ==
        "server b:7470 unreachable since 2026-12-06T10:00:00Z (connection refused): GPUs GPU-b-0, GPU-b-1 "
        "unhealthy; pods holding shares: team/both, team/one");

  ServerProbe back{{"b:7470", "b:7471", ""}, true, "", {}, false, true, ""};
  const auto recovered = HealthNotices(down, up, {a, back}, holders);
  REQUIRE(recovered.size() == 3);
  CHECK(recovered[0].reason == "GPURecovered");
  CHECK(recovered[0].type == "Normal");
  CHECK_THAT(recovered[0].message,
             Catch::StartsWith("its GPU is back: server b:7470 answers again (GPU-b-0, GPU-b-1)"));
  CHECK(recovered[2].reason == "ServerRecovered");
  CHECK_THAT(recovered[2].message,
             Catch::StartsWith("server b:7470 answers again: GPUs GPU-b-0, GPU-b-1 healthy"));
}

TEST_CASE("health notices: one GPU its server reports unhealthy") {
  control::v1::Inventory inv;
  auto* g = inv.add_gpus();
  g->set_uuid("GPU-a-1");
  g->set_healthy(false);
  g->set_health_message("Xid 79: fallen off the bus");
  ServerProbe a{{"a:7470", "a:7471", ""}, true, "", inv, false, false, ""};
  const auto notices = HealthNotices({Gpu("a:7470", "GPU-a-0", true), Gpu("a:7470", "GPU-a-1", true)},
                                     {Gpu("a:7470", "GPU-a-0", true), Gpu("a:7470", "GPU-a-1", false)}, {a},
                                     {{{"team", "x", "u1"}, Binding{"p", {{"a:7470", "GPU-a-1", 100, 1}}}}});
  REQUIRE(notices.size() == 2);
  CHECK(
      notices[0].message ==
      "lost its GPU: GPU-a-1 on server a:7470 reported unhealthy by its server (Xid 79: fallen off the bus) "
      "(GPU-a-1)");
  CHECK(notices[1].reason == "GPUUnhealthy");
  CHECK_THAT(notices[1].message, Catch::EndsWith("; pods holding shares: team/x"));
}

}  // namespace
}  // namespace gpupool::controllers
