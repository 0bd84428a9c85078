// RestClient against the fake API server: every verb, typed errors, retries, token re-reads, watch.
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "common/kube/errors.h"
#include "tests/operator/kube_test_util.h"
#include "tests/support/process.h"

namespace gpupool::kube {
namespace {

using testing::ClientFor;
using testing::StartFake;
using testing::TestPod;

TEST_CASE("rest: create, get, list, update, patch and delete a pod", "[kube]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  auto created = client->Create(Pods(), "default", TestPod("p1", "default", {{"app", "a"}}));
  REQUIRE(created.ok());
  CHECK(!UidOf(*created).empty());
  REQUIRE(client->Create(Pods(), "default", TestPod("p2", "default", {{"app", "b"}})).ok());

  auto got = client->Get(Pods(), "default", "p1");
  REQUIRE(got.ok());
  CHECK(ResourceVersionOf(*got) == ResourceVersionOf(*created));

  ListOptions by_label;
  by_label.label_selector = "app=a";
  auto list = client->List(Pods(), "default", by_label);
  REQUIRE(list.ok());
  REQUIRE((*list)["items"].size() == 1);
  CHECK(NameOf((*list)["items"][0]) == "p1");
  ListOptions by_field;
  by_field.field_selector = "metadata.name=p2";
  CHECK((*client->List(Pods(), "", by_field))["items"].size() == 1);

  Json pod = *got;
  pod["metadata"]["annotations"] = {{"x", "1"}};
  auto updated = client->Update(Pods(), pod);
  REQUIRE(updated.ok());
  CHECK(ResourceVersionOf(*updated) != ResourceVersionOf(*got));
  // The same write again carries the old resourceVersion: 409 Conflict.
  auto stale = client->Update(Pods(), pod);
  REQUIRE_FALSE(stale.ok());
  CHECK(IsConflict(stale.status()));
  CHECK(stale.status().code() == Code::kConflict);

  auto merged = client->Patch(Pods(), "default", "p1", PatchType::kMerge,
                              {{"metadata", {{"annotations", {{"gpupool.io/binding", "{}"}}}}}});
  REQUIRE(merged.ok());
  CHECK((*merged)["metadata"]["annotations"]["gpupool.io/binding"] == "{}");
  Json remove_gate = Json::array(
      {{{"op", "test"}, {"path", "/spec/schedulingGates/0/name"}, {"value", "gpupool.io/binding"}},
       {{"op", "remove"}, {"path", "/spec/schedulingGates/0"}}});
  auto ungated = client->Patch(Pods(), "default", "p1", PatchType::kJson, remove_gate);
  REQUIRE(ungated.ok());
  CHECK_FALSE((*ungated)["spec"].contains("schedulingGates"));
  // The same JSON patch again: its test op fails, the server says Invalid.
  auto again = client->Patch(Pods(), "default", "p1", PatchType::kJson, remove_gate);
  CHECK(IsInvalid(again.status()));
  auto smp = client->Patch(
      Pods(), "default", "p2", PatchType::kStrategicMerge,
      {{"spec", {{"schedulingGates", {{{"$patch", "delete"}, {"name", "gpupool.io/binding"}}}}}}});
  REQUIRE(smp.ok());
  CHECK_FALSE((*smp)["spec"].contains("schedulingGates"));

  Json status = *client->Get(Pods(), "default", "p1");
  status["status"]["phase"] = "Succeeded";
  REQUIRE(client->UpdateStatus(Pods(), status).ok());
  CHECK((*client->Get(Pods(), "default", "p1"))["status"]["phase"] == "Succeeded");

  DeleteOptions stale_delete;
  stale_delete.precondition_resource_version = ResourceVersionOf(*got);  // older than the last write
  CHECK(IsConflict(client->Delete(Pods(), "default", "p1", stale_delete).status()));
  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-4000-8000-000000000000";
  CHECK(IsConflict(client->Delete(Pods(), "default", "p1", wrong_uid).status()));
  REQUIRE(client->Delete(Pods(), "default", "p1").ok());
  CHECK(IsNotFound(client->Get(Pods(), "default", "p1").status()));
  CHECK(IsNotFound(client->Delete(Pods(), "default", "p1").status()));
  CHECK(IsAlreadyExists(client->Create(Pods(), "default", TestPod("p2")).status()));
  auto counts = client->RequestCounts();
  CHECK(counts["create"] == 3);
  CHECK(server->RequestCounts()["create"] == 3);
}

TEST_CASE("rest: API errors map to codes and keep their reason", "[kube]") {
  auto server = StartFake();
  RestOptions no_retry;
  no_retry.max_retries = 0;
  auto client = ClientFor(*server, no_retry);
  struct Case {
    int http;
    Code code;
    std::string reason;
    bool retryable;
  };
  for (const Case& c : std::vector<Case>{{500, Code::kUnavailable, "InternalError", true},
                                         {503, Code::kUnavailable, "ServiceUnavailable", true},
                                         {429, Code::kResourceExhausted, "TooManyRequests", true},
                                         {504, Code::kDeadlineExceeded, "Timeout", true}}) {
    CAPTURE(c.http);
    server->FailNextRequests(1, c.http, "get", 1);
    auto r = client->Get(Pods(), "default", "x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == c.code);
    auto e = ParseApiError(r.status());
    REQUIRE(e.has_value());
    CHECK(e->http_code == c.http);
    CHECK(e->reason == c.reason);
    CHECK(e->retry_after_s == 1);
    CHECK(IsRetryable(r.status()) == c.retryable);
  }
  // 422: a Lease PUT without resourceVersion.
  Json lease = {{"metadata", {{"name", "l"}, {"namespace", "default"}}}, {"spec", {{"holderIdentity", "a"}}}};
  REQUIRE(client->Create(Leases(), "default", lease).ok());
  auto invalid = client->Update(Leases(), lease);
  CHECK(IsInvalid(invalid.status()));
  CHECK(invalid.status().code() == Code::kInvalidArgument);
  // 415: strategic merge on a custom resource.
  REQUIRE(
      client->Create(GPUPools(), "", {{"metadata", {{"name", "pool"}}}, {"spec", {{"policy", "binpack"}}}})
          .ok());
  auto smp =
      client->Patch(GPUPools(), "", "pool", PatchType::kStrategicMerge, {{"spec", {{"policy", "spread"}}}});
  CHECK(smp.status().code() == Code::kUnimplemented);
  // 410: an exact list at a compacted resourceVersion.
  std::string old_rv = std::to_string(server->ResourceVersion() - 1);
  server->Compact();
  ListOptions exact;
  exact.resource_version = old_rv;
  exact.resource_version_match = "Exact";
  auto expired = client->List(Pods(), "default", exact);
  CHECK(IsExpired(expired.status()));
  CHECK(expired.status().code() == Code::kFailedPrecondition);
  // 400: an unsupported field selector.
  ListOptions bad;
  bad.field_selector = "spec.nonsense=1";
  CHECK(IsInvalid(client->List(Pods(), "", bad).status()));
  // Annotate keeps the reason readable.
  Status annotated = invalid.status().Annotate("renewing");
  CHECK(IsInvalid(annotated));
  // Nothing listening: Unavailable, not a crash.
  ClusterConfig nowhere;
  nowhere.server = "http://127.0.0.1:1";
  RestOptions quick;
  quick.request_timeout = std::chrono::seconds(5);
  auto dead = RestClient::Create(nowhere, quick);
  REQUIRE(dead.ok());
  auto unreachable = (*dead)->Get(Pods(), "default", "x");
  CHECK(unreachable.status().code() == Code::kUnavailable);
  CHECK(IsRetryable(unreachable.status()));
}

TEST_CASE("rest: 429 and 503 with Retry-After are retried, others are not", "[kube]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  REQUIRE(client->Create(Pods(), "default", TestPod("p")).ok());
  server->ResetRequestCounts();
  server->FailNextRequests(2, 503, "get", 1);
  REQUIRE(client->Get(Pods(), "default", "p").ok());
  CHECK(server->RequestCounts()["get"] == 3);
  server->FailNextRequests(1, 500, "get", 0);  // no Retry-After: returned at once
  CHECK(client->Get(Pods(), "default", "p").status().code() == Code::kUnavailable);
  CHECK(server->RequestCounts()["get"] == 4);
}

TEST_CASE("rest: a 401 re-reads a rotated token file once", "[kube]") {
  auto server = StartFake();
  testing::TempDir dir;
  std::string path = dir.File("token");
  std::ofstream(path) << "token-a\n";
  ClusterConfig config;
  config.server = server->url();
  config.token = TokenSource::FromFile(path, std::chrono::hours(1));
  std::unique_ptr<RestClient> client = std::move(RestClient::Create(config)).value();
  server->RequireToken("token-a");
  REQUIRE(client->Create(Pods(), "default", TestPod("p")).ok());
  // Rotate with the same size and modification time, so only the 401 can reveal it.
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  std::ofstream(path) << "token-b\n";
  timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  server->RequireToken("token-b");
  int reads = config.token->reads();
  REQUIRE(client->Get(Pods(), "default", "p").ok());
  CHECK(config.token->reads() == reads + 1);
  server->RequireToken("token-c");  // a token we cannot get: the 401 is returned, typed
  CHECK(IsUnauthorized(client->Get(Pods(), "default", "p").status()));
}

TEST_CASE("rest: ListAll pages through one snapshot", "[kube]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  for (int i = 0; i < 7; ++i)
    REQUIRE(client->Create(Pods(), "default", TestPod("p" + std::to_string(i))).ok());
  ListOptions first;
  first.limit = 3;
  auto page = client->List(Pods(), "default", first);
  REQUIRE(page.ok());
  CHECK((*page)["items"].size() == 3);
  std::string token = (*page)["metadata"]["continue"];
  REQUIRE(client->Create(Pods(), "default", TestPod("p9")).ok());  // after the snapshot
  ListOptions next;
  next.limit = 10;
  next.continue_token = token;
  auto rest = client->List(Pods(), "default", next);
  REQUIRE(rest.ok());
  CHECK((*rest)["items"].size() == 4);  // p9 is not in the snapshot
  CHECK((*rest)["metadata"]["resourceVersion"] == (*page)["metadata"]["resourceVersion"]);
  auto all = ListAll(*client, Pods(), "default", {}, 2);
  REQUIRE(all.ok());
  CHECK((*all)["items"].size() == 8);
}

TEST_CASE("rest: watch replays from a resourceVersion and reports 410 after compaction", "[kube]") {
  testing::FakeApiServer::Options options;
  options.bookmark_interval = std::chrono::milliseconds(100);
  auto server = StartFake(options);
  auto client = ClientFor(*server);
  auto a = client->Create(Pods(), "default", TestPod("a"));
  REQUIRE(a.ok());
  REQUIRE(client->Patch(Pods(), "default", "a", PatchType::kMerge, {{"metadata", {{"labels", {{"k", "v"}}}}}})
              .ok());
  REQUIRE(client->Delete(Pods(), "default", "a").ok());
  ListOptions from;
  from.resource_version = ResourceVersionOf(*a);
  from.allow_watch_bookmarks = true;
  auto watch = client->Watch(Pods(), "default", from);
  REQUIRE(watch.ok());
  std::vector<std::string> types;
  while (types.size() < 2) {  // replay starts after `a`'s version: MODIFIED, DELETED
    auto e = (*watch)->Next();
    REQUIRE(e.ok());
    REQUIRE(e->has_value());
    if ((*e)->type != WatchEvent::Type::kBookmark) types.emplace_back(WatchEventTypeName((*e)->type));
  }
  CHECK(types[0] == "MODIFIED");
  CHECK(types[1] == "DELETED");
  (*watch)->Cancel();

  server->Compact();
  auto old = client->Watch(Pods(), "default", from);
  REQUIRE(old.ok());
  auto e = (*old)->Next();
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  REQUIRE((*e)->type == WatchEvent::Type::kError);
  CHECK(IsExpired(StatusFromStatusObject((*e)->object)));
  auto end = (*old)->Next();
  REQUIRE(end.ok());
  CHECK_FALSE(end->has_value());  // the server closes the stream after the ERROR event
}

}  // namespace
}  // namespace gpupool::kube
