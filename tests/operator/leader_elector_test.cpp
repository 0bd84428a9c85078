// Lease leader election against the fake API server: one leader, takeover, losing renewals.
#include <atomic>
#include <catch2/catch.hpp>

#include "operator/leader/elector.h"
#include "tests/operator/kube_test_util.h"

namespace gpupool::leader {
namespace {

using namespace std::chrono_literals;
using testing::ClientFor;
using testing::Eventually;
using testing::StartFake;

struct Replica {
  std::atomic<int> started{0}, stopped{0};
  std::unique_ptr<LeaderElector> elector;
  Replica(kube::Client& client, const std::string& id, bool release = true) {
    ElectionConfig c;
    c.lease_namespace = "gpupool-system";
    c.identity = id;
    c.lease_duration = 1500ms;
    c.renew_deadline = 1000ms;
    c.retry_period = 100ms;
    c.release_on_cancel = release;
    auto e = LeaderElector::Create(client, c, {[this] { ++started; }, [this] { ++stopped; }, nullptr});
    REQUIRE(e.ok());
    elector = std::move(*e);
  }
};

TEST_CASE("two electors, one leader, a clean stop hands over at once", "[leader]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  Replica a(*client, "a"), b(*client, "b");
  a.elector->Start();
  REQUIRE(Eventually([&] { return a.elector->IsLeader(); }));
  b.elector->Start();
  REQUIRE(Eventually([&] { return b.elector->Leader() == "a"; }));
  CHECK_FALSE(b.elector->IsLeader());
  auto lease = server->Get("leases", "gpupool-system", "gpupool-operator");
  REQUIRE(lease.ok());
  CHECK((*lease)["spec"]["holderIdentity"] == "a");
  CHECK((*lease)["spec"]["leaseDurationSeconds"] == 2);

  auto t0 = std::chrono::steady_clock::now();
  a.elector->Stop();  // releases: holderIdentity "" and a 1 s lease
  CHECK(a.stopped == 1);
  REQUIRE(Eventually([&] { return b.elector->IsLeader(); }));
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);  // faster than waiting out the lease
  CHECK((*server->Get("leases", "gpupool-system", "gpupool-operator"))["spec"]["leaseTransitions"] == 1);
  CHECK(a.started == 1);
  // IsLeader turns true before the elector's thread runs the started callback: wait for the callback.
  CHECK(Eventually([&] { return b.started.load() == 1; }));
}

TEST_CASE("a killed leader is replaced only after its lease expires", "[leader]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  Replica a(*client, "a", /*release=*/false), b(*client, "b");
  a.elector->Start();
  REQUIRE(Eventually([&] { return a.elector->IsLeader(); }));
  b.elector->Start();
  REQUIRE(Eventually([&] { return b.elector->Leader() == "a"; }));
  a.elector->Stop();  // like a crash: no release, the lease just stops being renewed
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(Eventually([&] { return b.elector->IsLeader(); }));
  CHECK(std::chrono::steady_clock::now() - t0 >= 1000ms);  // waited for the (2 s, rounded up) lease
  auto lease = server->Get("leases", "gpupool-system", "gpupool-operator");
  CHECK((*lease)["spec"]["holderIdentity"] == "b");
  CHECK((*lease)["spec"]["leaseTransitions"] == 1);
}

TEST_CASE("failing renewals stop the leader within the renew deadline", "[leader]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  Replica a(*client, "a");
  a.elector->Start();
  REQUIRE(Eventually([&] { return a.elector->IsLeader(); }));
  auto t0 = std::chrono::steady_clock::now();
  server->FailNextRequests(1000000, 503);
  REQUIRE(Eventually([&] { return a.stopped.load() == 1; }, 5s));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK_FALSE(a.elector->IsLeader());
  CHECK(took >= 900ms);
  CHECK(took < 5s);  // generous for a loaded machine; without the deadline it would never fire
  server->FailNextRequests(0, 503);
  REQUIRE(Eventually([&] { return a.elector->IsLeader(); }, 10s));  // it reacquires its own lease
  CHECK(a.started == 2);
}

TEST_CASE("someone else taking the lease stops the leader at once", "[leader]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  Replica a(*client, "a");
  a.elector->Start();
  REQUIRE(Eventually([&] { return a.elector->IsLeader(); }));
  auto lease = *server->Get("leases", "gpupool-system", "gpupool-operator");
  lease["spec"]["holderIdentity"] = "intruder";
  REQUIRE(server->Update("leases", lease).ok());
  REQUIRE(Eventually([&] { return a.stopped.load() == 1; }, 5s));
  CHECK(a.elector->Leader() == "intruder");
}

TEST_CASE("timing rules and identity are checked", "[leader]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  ElectionConfig c;
  c.lease_namespace = "ns";
  c.identity = "me";
  CHECK(LeaderElector::Create(*client, c, {}).ok());  // 15 s / 10 s / 2 s
  ElectionConfig bad = c;
  bad.renew_deadline = 15s;
  CHECK(LeaderElector::Create(*client, bad, {}).status().code() == Code::kInvalidArgument);
  bad = c;
  bad.retry_period = 9s;
  CHECK(LeaderElector::Create(*client, bad, {}).status().code() == Code::kInvalidArgument);
  bad = c;
  bad.identity.clear();
  CHECK_FALSE(LeaderElector::Create(*client, bad, {}).ok());
  CHECK(LeaderElector::DefaultIdentity().find('_') != std::string::npos);
  CHECK(LeaderElector::DefaultIdentity() != LeaderElector::DefaultIdentity());
}

}  // namespace
}  // namespace gpupool::leader
