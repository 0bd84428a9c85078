// The fake API server's semantics (k8s-api-facts §13), through its direct API and over HTTP.
#include <catch2/catch.hpp>
#include <future>

#include "common/kube/errors.h"
#include "tests/operator/kube_test_util.h"
#include "tests/support/fake_apiserver/patch.h"
#include "tests/support/fake_apiserver/selectors.h"

namespace gpupool::testing {
namespace {

using Json = nlohmann::json;

Json Pool(const std::string& name) {
  return {{"apiVersion", "gpupool.io/v1alpha1"},
          {"kind", "GPUPool"},
          {"metadata", {{"name", name}}},
          {"spec", {{"policy", "binpack"}}},
          {"status", {{"observedGeneration", 7}}}};
}

std::string Rv(const Json& o) {
  return o["metadata"]["resourceVersion"];
}

TEST_CASE("one global resourceVersion, server-owned metadata", "[fake_apiserver]") {
  auto server = StartFake();
  long long start = server->ResourceVersion();
  auto pod = server->Create("pods", "default", TestPod("p"));
  auto pool = server->Create("gpupools", "", Pool("a"));
  REQUIRE(pod.ok());
  REQUIRE(pool.ok());
  CHECK(std::stoll(Rv(*pod)) == start + 1);
  CHECK(std::stoll(Rv(*pool)) == start + 2);
  CHECK((*pool)["metadata"]["generation"] == 1);
  CHECK((*pool)["metadata"]["uid"].get<std::string>().size() == 36);
  CHECK_FALSE((*pool)["metadata"].contains("namespace"));
  CHECK_FALSE(pool->contains("status"));  // dropped on create: the status subresource owns it
  CHECK((*pod)["status"]["phase"] == "Pending");
  CHECK(server->Create("pods", "default", TestPod("p")).status().code() == Code::kAlreadyExists);
  Json with_rv = TestPod("q");
  with_rv["metadata"]["resourceVersion"] = "5";
  CHECK_FALSE(server->Create("pods", "default", with_rv).ok());
  Json no_containers = TestPod("r");
  no_containers["spec"].erase("containers");
  CHECK(server->Create("pods", "default", no_containers).status().code() == Code::kInvalidArgument);
  Json generated = TestPod("");
  generated["metadata"].erase("name");
  generated["metadata"]["generateName"] = "worker-";
  auto g = server->Create("pods", "default", generated);
  REQUIRE(g.ok());
  CHECK((*g)["metadata"]["name"].get<std::string>().size() == std::string("worker-").size() + 5);
}

TEST_CASE("updates are optimistic, no-ops are free, generation tracks spec", "[fake_apiserver]") {
  auto server = StartFake();
  Json pool = *server->Create("gpupools", "", Pool("a"));
  Json same = *server->Update("gpupools", pool);
  CHECK(Rv(same) == Rv(pool));  // byte-identical result: no write
  Json labelled = pool;
  labelled["metadata"]["labels"] = {{"x", "y"}};
  labelled["metadata"]["generation"] = 99;  // ignored
  Json l = *server->Update("gpupools", labelled);
  CHECK(Rv(l) != Rv(pool));
  CHECK(l["metadata"]["generation"] == 1);                                         // metadata-only change
  CHECK(server->Update("gpupools", labelled).status().code() == Code::kConflict);  // stale
  Json unconditional = l;
  unconditional["metadata"].erase("resourceVersion");
  CHECK(server->Update("gpupools", unconditional).status().code() == Code::kInvalidArgument);  // CRs need one
  Json spec = l;
  spec["spec"]["policy"] = "spread";
  spec["status"] = {{"observedGeneration", 1}};  // ignored by the main endpoint
  Json s = *server->Update("gpupools", spec);
  CHECK(s["metadata"]["generation"] == 2);
  CHECK_FALSE(s.contains("status"));
  Json st = s;
  st["status"] = {{"observedGeneration", 2}};
  st["spec"]["policy"] = "binpack";         // ignored by /status
  st["metadata"]["labels"] = {{"z", "1"}};  // ignored by /status for custom resources
  Json after = *server->UpdateStatus("gpupools", st);
  CHECK(after["status"]["observedGeneration"] == 2);
  CHECK(after["spec"]["policy"] == "spread");
  CHECK(after["metadata"]["labels"] == Json{{"x", "y"}});
  CHECK(after["metadata"]["generation"] == 2);
  // Pods: the spec is immutable except the listed fields; gates can only be removed.
  Json pod = *server->Create("pods", "default", TestPod("p"));
  Json gated = pod;
  gated["spec"]["schedulingGates"].push_back({{"name", "other"}});
  CHECK(server->Update("pods", gated).status().code() == Code::kInvalidArgument);
  Json moved = pod;
  moved["spec"]["nodeName"] = "n1";
  CHECK(server->Update("pods", moved).status().code() == Code::kInvalidArgument);
  // While gated, the nodeSelector may gain entries, never lose or change one.
  Json pinned = pod;
  pinned["spec"]["nodeSelector"] = {{"kubernetes.io/hostname", "gpu-01"}};
  pinned["metadata"].erase("resourceVersion");
  REQUIRE(server->Update("pods", pinned).ok());
  Json repinned = pinned;
  repinned["spec"]["nodeSelector"]["kubernetes.io/hostname"] = "gpu-02";
  CHECK(server->Update("pods", repinned).status().code() == Code::kInvalidArgument);
  Json ungated = pinned;
  ungated["spec"].erase("schedulingGates");
  CHECK(server->Update("pods", ungated).ok());
  Json later = ungated;  // no longer gated: the selector is fixed
  later["spec"]["nodeSelector"]["zone"] = "a";
  CHECK(server->Update("pods", later).status().code() == Code::kInvalidArgument);
}

TEST_CASE("finalizers hold deletion until the last one is removed", "[fake_apiserver]") {
  auto server = StartFake();
  Json pool = Pool("f");
  pool["metadata"]["finalizers"] = {"gpupool.io/release", "other/x"};
  Json created = *server->Create("gpupools", "", pool);
  Json marked = *server->Delete("gpupools", "", "f");
  CHECK(marked["metadata"].contains("deletionTimestamp"));
  CHECK(marked["metadata"]["generation"] == 2);
  Json again = *server->Delete("gpupools", "", "f");
  CHECK(Rv(again) == Rv(marked));  // deleting again changes nothing
  Json more = marked;
  more["metadata"]["finalizers"].push_back("new/one");
  CHECK(server->Update("gpupools", more).status().code() == Code::kInvalidArgument);
  Json one = marked;
  one["metadata"]["finalizers"] = {"other/x"};
  Json kept = *server->Update("gpupools", one);
  CHECK(server->Get("gpupools", "", "f").ok());
  Json none = kept;
  none["metadata"]["finalizers"] = Json::array();
  REQUIRE(server->Update("gpupools", none).ok());
  CHECK(server->Get("gpupools", "", "f").status().code() == Code::kNotFound);
  Json plain = *server->Create("gpupools", "", Pool("g"));
  auto status = server->Delete("gpupools", "", "g");
  REQUIRE(status.ok());
  CHECK((*status)["kind"] == "Status");
  CHECK((*status)["status"] == "Success");
  CHECK((*status)["details"]["kind"] == "gpupools");
}

TEST_CASE("selectors parse as the API server's do", "[fake_apiserver]") {
  Json obj = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"labels", {{"app", "a"}, {"tier", "web"}}}}},
              {"spec", {{"nodeName", "n1"}}},
              {"status", {{"phase", "Running"}}}};
  struct Case {
    std::string selector;
    bool ok, matches;
  };
  for (const Case& c : std::vector<Case>{{"", true, true},
                                         {"app=a", true, true},
                                         {"app==a,tier=web", true, true},
                                         {"app!=a", true, false},
                                         {"app in (b, a)", true, true},
                                         {"app notin (a)", true, false},
                                         {"tier", true, true},
                                         {"!tier", true, false},
                                         {"missing!=x", true, true},
                                         {"app in a", false, false},
                                         {"app=a,,", false, false}}) {
    CAPTURE(c.selector);
    auto s = fake::LabelSelector::Parse(c.selector);
    REQUIRE(s.ok() == c.ok);
    if (c.ok) CHECK(s->Matches(obj) == c.matches);
  }
  const fake::KindInfo& pods = *fake::FindKindByPlural("pods");
  for (const Case& c : std::vector<Case>{{"spec.nodeName=n1", true, true},
                                         {"spec.nodeName=", true, false},
                                         {"metadata.name=p,metadata.namespace=ns", true, true},
                                         {"status.phase!=Running", true, false},
                                         {"spec.bogus=1", false, false},
                                         {"novalue", false, false}}) {
    CAPTURE(c.selector);
    auto s = fake::FieldSelector::Parse(c.selector, pods);
    REQUIRE(s.ok() == c.ok);
    if (c.ok) CHECK(s->Matches(obj) == c.matches);
  }
}

TEST_CASE("strategic merge patch on pods", "[fake_apiserver]") {
  Json pod = TestPod("p");
  pod["spec"]["schedulingGates"].push_back({{"name", "other/gate"}});
  pod["metadata"]["finalizers"] = {"a/b"};
  struct Case {
    std::string name;
    Json patch;
    std::function<bool(const Json&)> check;
  };
  std::vector<Case> cases = {
      {"delete one gate by name",
       {{"spec", {{"schedulingGates", {{{"$patch", "delete"}, {"name", "gpupool.io/binding"}}}}}}},
       [](const Json& p) {
         return p["spec"]["schedulingGates"] == Json::array({{{"name", "other/gate"}}});
       }},
      {"merge a container by name",
       {{"spec", {{"containers", {{{"name", "main"}, {"image", "alpine"}}}}}}},
       [](const Json& p) {
         return p["spec"]["containers"].size() == 1 && p["spec"]["containers"][0]["image"] == "alpine";
       }},
      {"finalizers are a set",
       {{"metadata", {{"finalizers", {"c/d", "a/b"}}}}},
       [](const Json& p) {
         return p["metadata"]["finalizers"] == Json::array({"a/b", "c/d"});
       }},
      {"delete from a primitive list",
       {{"metadata", {{"$deleteFromPrimitiveList/finalizers", {"a/b"}}}}},
       [](const Json& p) { return p["metadata"]["finalizers"].empty(); }},
      {"null removes a key",
       {{"metadata", {{"labels", nullptr}}}},
       [](const Json& p) { return !p["metadata"].contains("labels"); }},
      {"replace a whole list",
       {{"spec", {{"schedulingGates", {{{"$patch", "replace"}}, {{"name", "x"}}}}}}},
       [](const Json& p) {
         return p["spec"]["schedulingGates"] == Json::array({{{"name", "x"}}});
       }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto r = fake::ApplyPatch(fake::PatchKind::kStrategic, pod, c.patch);
    REQUIRE(r.ok());
    CHECK(c.check(*r));
  }
  CHECK_FALSE(fake::ApplyPatch(fake::PatchKind::kStrategic, pod,
                               {{"spec", {{"schedulingGates", {{{"$patch", "delete"}}}}}}})
                  .ok());  // no merge key
}

TEST_CASE("watch over HTTP replays, filters, bookmarks and expires", "[fake_apiserver]") {
  FakeApiServer::Options options;
  options.bookmark_interval = std::chrono::milliseconds(50);
  auto server = StartFake(options);
  auto client = ClientFor(*server);
  std::string start = std::to_string(server->ResourceVersion());
  REQUIRE(server->Create("pods", "default", TestPod("a", "default", {{"app", "x"}})).ok());
  REQUIRE(server->Create("pods", "default", TestPod("b", "default", {{"app", "y"}})).ok());
  Json b = *server->Get("pods", "default", "b");
  b["metadata"]["labels"]["app"] = "x";  // b starts matching: ADDED for this watcher
  REQUIRE(server->Update("pods", b).ok());
  Json a = *server->Get("pods", "default", "a");
  a["metadata"]["labels"]["app"] = "z";  // a stops matching: DELETED for this watcher
  REQUIRE(server->Update("pods", a).ok());
  kube::ListOptions o;
  o.resource_version = start;
  o.label_selector = "app=x";
  o.allow_watch_bookmarks = true;
  o.timeout_seconds = 1;
  auto w = client->Watch(kube::Pods(), "default", o);
  REQUIRE(w.ok());
  std::vector<std::string> seen;
  long long last_rv = std::stoll(start);
  bool ordered = true, bookmark = false;
  while (true) {
    auto e = (*w)->Next();
    INFO(e.status().message());
    REQUIRE(e.ok());
    if (!e->has_value()) break;  // timeoutSeconds: a clean end
    long long rv = std::stoll(kube::ResourceVersionOf((*e)->object));
    if ((*e)->type == kube::WatchEvent::Type::kBookmark) {
      bookmark = true;
      CHECK((*e)->object["kind"] == "Pod");
      CHECK((*e)->object["metadata"].size() == 1);
    } else {
      seen.push_back(std::string(kube::WatchEventTypeName((*e)->type)) + ":" + kube::NameOf((*e)->object));
      ordered = ordered && rv > last_rv;
    }
    last_rv = std::max(last_rv, rv);
  }
  CHECK(seen == std::vector<std::string>{"ADDED:a", "ADDED:b", "DELETED:a"});
  CHECK(ordered);
  CHECK(bookmark);
  server->Compact();
  auto expired = client->Watch(kube::Pods(), "default", o);
  REQUIRE(expired.ok());
  auto e = (*expired)->Next();
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  CHECK((*e)->type == kube::WatchEvent::Type::kError);
  CHECK((*e)->object["code"] == 410);
  CHECK((*e)->object["reason"] == "Expired");
}

TEST_CASE("failure injection and request counts", "[fake_apiserver]") {
  auto server = StartFake();
  kube::RestOptions no_retry;
  no_retry.max_retries = 0;
  auto client = ClientFor(*server, no_retry);
  server->FailNextRequests(2, 429, "create", 3);
  CHECK(client->Create(kube::Pods(), "default", TestPod("p")).status().code() == Code::kResourceExhausted);
  CHECK(client->Create(kube::Pods(), "default", TestPod("p")).status().code() == Code::kResourceExhausted);
  CHECK(client->Get(kube::Pods(), "default", "p").status().code() ==
        Code::kNotFound);  // other verbs unaffected
  REQUIRE(client->Create(kube::Pods(), "default", TestPod("p")).ok());
  auto counts = server->RequestCounts();
  CHECK(counts["create"] == 3);
  CHECK(counts["get"] == 1);
  server->ResetRequestCounts();
  CHECK(server->RequestCounts().empty());
  CHECK(client->Get(kube::TokenReviews(), "", "x").status().code() == Code::kUnimplemented);
}

TEST_CASE("shutdown cuts a delayed request short and outlives its handler", "[fake_apiserver]") {
  auto server = StartFake();
  kube::RestOptions no_retry;
  no_retry.max_retries = 0;
  auto client = ClientFor(*server, no_retry);
  server->DelayRequests(std::chrono::seconds(60), "get");
  auto answer =
      std::async(std::launch::async, [&client] { return client->Get(kube::Pods(), "default", "p"); });
  REQUIRE(Eventually([&server] { return server->RequestCounts()["get"] == 1; }));
  const auto start = std::chrono::steady_clock::now();
  server.reset();  // the handler wakes while the server is torn down; it must not use what is gone
  const Status got = answer.get().status();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));  // not the 60 s delay
  CHECK(got.code() == Code::kUnavailable);
}

TEST_CASE("fake API server: TokenRequest issues pod-bound tokens that TokenReview checks honestly",
          "[fake_apiserver][tokens]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  REQUIRE(server->Create("serviceaccounts", "team", {{"metadata", {{"name", "runner"}}}}).ok());
  auto pod = server->Create("pods", "team", TestPod("p", "team"));
  REQUIRE(pod.ok());
  const std::string uid = (*pod)["metadata"]["uid"];
  auto request = [&](Json spec, std::string sa = "runner") { return server->CreateToken("team", sa, spec); };
  auto review = [&](const std::string& token, Json audiences = Json::array({"gpupool.io"})) {
    auto r = client->Create(kube::TokenReviews(), "",
                            {{"apiVersion", "authentication.k8s.io/v1"},
                             {"kind", "TokenReview"},
                             {"spec", {{"token", token}, {"audiences", audiences}}}});
    REQUIRE(r.ok());
    CHECK((*r)["kind"] == "TokenReview");
    return (*r)["status"];
  };
  const Json bound = {{"audiences", {"gpupool.io"}},
                      {"expirationSeconds", 600},
                      {"boundObjectRef", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "p"}}}};
  auto issued = request(bound);
  REQUIRE(issued.ok());
  const std::string token = (*issued)["status"]["token"];
  CHECK((*issued)["spec"]["boundObjectRef"]["uid"] == uid);
  CHECK_FALSE((*issued)["status"]["expirationTimestamp"].get<std::string>().empty());

  Json ok = review(token);
  CHECK(ok["authenticated"] == true);
  CHECK(ok["audiences"] == Json::array({"gpupool.io"}));
  CHECK(ok["user"]["username"] == "system:serviceaccount:team:runner");
  CHECK(ok["user"]["extra"]["authentication.kubernetes.io/pod-uid"] == Json::array({uid}));
  CHECK(ok["user"]["extra"]["authentication.kubernetes.io/pod-name"] == Json::array({"p"}));
  CHECK(ok["user"]["groups"][0] == "system:serviceaccounts");

  CHECK(review(token, {"other"})["authenticated"] == false);  // audience mismatch
  CHECK_THAT(review(token, {"other"})["error"].get<std::string>(), Catch::Contains("audiences"));
  CHECK(review(token, Json::array())["authenticated"] == false);  // the API server's own audience
  CHECK(review("garbage")["authenticated"] == false);
  std::string forged = token;
  forged[forged.find('.') + 3] ^= 1;  // a changed claim no longer matches the signature
  CHECK(review(forged)["authenticated"] == false);

  SECTION("expired") {
    server->AdvanceClock(std::chrono::seconds(601));
    CHECK_THAT(review(token)["error"].get<std::string>(), Catch::Contains("expired"));
  }
  SECTION("the bound pod deleted, even if recreated under the same name") {
    REQUIRE(server->Delete("pods", "team", "p").ok());
    CHECK(review(token)["authenticated"] == false);
    REQUIRE(server->Create("pods", "team", TestPod("p", "team")).ok());
    CHECK_THAT(review(token)["error"].get<std::string>(), Catch::Contains("invalidated"));
  }
  SECTION("bad requests") {
    CHECK(request(bound, "nobody").status().code() == Code::kNotFound);
    Json short_lived = bound;
    short_lived["expirationSeconds"] = 60;
    CHECK(request(short_lived).status().code() == Code::kInvalidArgument);
    Json no_pod = bound;
    no_pod["boundObjectRef"]["name"] = "absent";
    CHECK(request(no_pod).status().code() == Code::kNotFound);
    Json wrong_uid = bound;
    wrong_uid["boundObjectRef"]["uid"] = "not-the-uid";
    CHECK(request(wrong_uid).status().code() == Code::kConflict);
    CHECK(client->Get(kube::TokenReviews(), "", "x").status().code() == Code::kUnimplemented);
  }
}

}  // namespace
}  // namespace gpupool::testing
