// Informer against the fake API server: list + watch, resume, relist on 410, bookmarks, backoff.
#include <catch2/catch.hpp>
#include <mutex>

#include "operator/kube/informer.h"
#include "tests/operator/kube_test_util.h"

namespace gpupool::kube {
namespace {

using testing::ClientFor;
using testing::Eventually;
using testing::StartFake;
using testing::TestPod;

// Records handler calls as "add:<name>", "update:<name>", "delete:<name>".
struct Recorder {
  std::mutex mu;
  std::vector<std::string> calls;
  EventHandlers Handlers() {
    return {[this](const Json& o) { Push("add:" + NameOf(o)); },
            [this](const Json&, const Json& o) { Push("update:" + NameOf(o)); },
            [this](const Json& o) { Push("delete:" + NameOf(o)); }};
  }
  void Push(std::string s) {
    std::lock_guard lock(mu);
    calls.push_back(std::move(s));
  }
  bool Has(const std::string& s) {
    std::lock_guard lock(mu);
    return std::find(calls.begin(), calls.end(), s) != calls.end();
  }
};

InformerOptions Fast() {
  InformerOptions o;
  o.backoff.initial = std::chrono::milliseconds(10);
  o.backoff.cap = std::chrono::milliseconds(50);
  o.backoff.jitter = 0;
  return o;
}

TEST_CASE("informer: lists, then watches adds, updates and deletes", "[kube]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  REQUIRE(client->Create(Pods(), "default", TestPod("before")).ok());
  REQUIRE(client->Create(Pods(), "other", TestPod("elsewhere", "other")).ok());
  InformerOptions options = Fast();
  options.ns = "default";
  Informer informer(*client, Pods(), options);
  Recorder rec;
  informer.AddHandlers(rec.Handlers());
  informer.Start();
  REQUIRE(informer.WaitForSync(std::chrono::seconds(10)));
  CHECK(rec.Has("add:before"));
  CHECK(informer.store().Size() == 1);
  REQUIRE(client->Create(Pods(), "default", TestPod("after")).ok());
  REQUIRE(
      client->Patch(Pods(), "default", "after", PatchType::kMerge, {{"metadata", {{"labels", {{"x", "y"}}}}}})
          .ok());
  REQUIRE(client->Delete(Pods(), "default", "before").ok());
  REQUIRE(Eventually([&] { return rec.Has("delete:before") && rec.Has("update:after"); }));
  CHECK(rec.Has("add:after"));
  CHECK_FALSE(rec.Has("add:elsewhere"));
  auto cached = informer.store().Get("default/after");
  REQUIRE(cached.has_value());
  CHECK((*cached)["metadata"]["labels"]["x"] == "y");
  CHECK((*cached)["kind"] == "Pod");
  CHECK(informer.LastSyncedResourceVersion() == std::to_string(server->ResourceVersion()));
  informer.Stop();
}

TEST_CASE("informer: a dropped watch resumes from the last resourceVersion without a relist", "[kube]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  Informer informer(*client, Pods(), Fast());
  Recorder rec;
  informer.AddHandlers(rec.Handlers());
  informer.Start();
  REQUIRE(informer.WaitForSync(std::chrono::seconds(10)));
  REQUIRE(client->Create(Pods(), "default", TestPod("a")).ok());
  REQUIRE(Eventually([&] { return rec.Has("add:a"); }));
  server->DropWatches();
  REQUIRE(client->Create(Pods(), "default", TestPod("b")).ok());
  REQUIRE(Eventually([&] { return rec.Has("add:b"); }));
  CHECK(informer.Stats().lists == 1);
  CHECK(informer.Stats().watches >= 2);
}

TEST_CASE("informer: relists after 410 Expired and recovers from injected 503s with backoff", "[kube]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  REQUIRE(client->Create(Pods(), "default", TestPod("gone-later")).ok());
  Informer informer(*client, Pods(), Fast());
  Recorder rec;
  informer.AddHandlers(rec.Handlers());
  informer.Start();
  REQUIRE(informer.WaitForSync(std::chrono::seconds(10)));
  // Keep the informer off the server while history moves on and is compacted away.
  server->FailNextRequests(1000000, 503, "watch");
  server->DropWatches();
  REQUIRE(Eventually([&] { return informer.Stats().failures >= 3; }));
  REQUIRE(client->Create(Pods(), "default", TestPod("missed")).ok());
  REQUIRE(client->Delete(Pods(), "default", "gone-later").ok());
  server->Compact();
  server->FailNextRequests(0, 503, "watch");
  // Its next watch starts before the compaction point: 410, relist, and the list shows both changes.
  REQUIRE(Eventually([&] { return rec.Has("add:missed") && rec.Has("delete:gone-later"); }));
  CHECK(informer.Stats().relists >= 1);
  CHECK(informer.Stats().lists >= 2);
  CHECK(informer.store().Keys() == std::vector<std::string>{"default/missed"});
  REQUIRE(client->Create(Pods(), "default", TestPod("live")).ok());
  REQUIRE(Eventually([&] { return rec.Has("add:live"); }));
}

TEST_CASE("informer: bookmarks move the resourceVersion without events", "[kube]") {
  testing::FakeApiServer::Options options;
  options.bookmark_interval = std::chrono::milliseconds(50);
  auto server = StartFake(options);
  auto client = ClientFor(*server);
  InformerOptions io = Fast();
  io.ns = "watched";
  Informer informer(*client, Pods(), io);
  Recorder rec;
  informer.AddHandlers(rec.Handlers());
  informer.Start();
  REQUIRE(informer.WaitForSync(std::chrono::seconds(10)));
  std::string synced = informer.LastSyncedResourceVersion();
  REQUIRE(client->Create(Pods(), "unwatched", TestPod("x", "unwatched")).ok());
  std::string now = std::to_string(server->ResourceVersion());
  REQUIRE(Eventually([&] { return informer.LastSyncedResourceVersion() == now; }));
  CHECK(now != synced);
  CHECK(informer.Stats().bookmarks >= 1);
  CHECK(rec.calls.empty());
  // After a compaction at this point the informer resumes without a relist: the bookmark saved it.
  server->Compact();
  server->DropWatches();
  REQUIRE(client->Create(Pods(), "watched", TestPod("y", "watched")).ok());
  REQUIRE(Eventually([&] { return rec.Has("add:y"); }));
  CHECK(informer.Stats().relists == 0);
}

TEST_CASE("informer: an unreachable server is retried with growing delays, Stop is prompt", "[kube]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  server->FailNextRequests(1000000, 500, "list");
  InformerOptions o = Fast();
  o.backoff.initial = std::chrono::milliseconds(20);
  o.backoff.cap = std::chrono::seconds(30);
  Informer informer(*client, Pods(), o);
  informer.Start();
  REQUIRE(Eventually([&] { return informer.Stats().failures >= 4; }));
  CHECK_FALSE(informer.HasSynced());
  long lists = server->RequestCounts()["list"];
  CHECK(lists >= 4);
  CHECK(lists < 12);  // 20, 40, 80, 160 ms ...: backing off, not hammering
  server->FailNextRequests(0, 500, "list");
  REQUIRE(informer.WaitForSync(std::chrono::seconds(20)));
  auto t0 = std::chrono::steady_clock::now();
  informer.Stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

}  // namespace
}  // namespace gpupool::kube
