// Pods prove who they are with their projected service-account token: a real gpupool-server with
// --pod-token-review asks the fake Kubernetes API server (tests/support/fake_apiserver, which issues
// and checks bound tokens as a real one does) with a TokenReview, and serves only tokens bound to a
// pod that Control admitted on it.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <optional>

#include "tests/remoting/server/control_client.h"
#include "tests/remoting/server/test_client.h"
#include "tests/support/fake_apiserver/fake_apiserver.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kShare = 48ull << 20;  // the memory share admitted for the pod

struct Cluster {
  std::unique_ptr<FakeApiServer> api;
  TempDir dir;
  std::optional<ServerProcess> server;
  std::map<std::string, std::string> uids;  // pod name -> UID
  std::string operator_token;               // what the operator presents on the Control API

  // Pods "a", "b" and "c" of service account team/runner; "a" and "c" admitted on the server.
  explicit Cluster(std::vector<std::string> extra = {}) {
    auto started = FakeApiServer::Start();
    REQUIRE(started.ok());
    api = std::move(*started);
    api->RequireToken("server-credential");  // the server's own service-account token
    std::ofstream(dir.File("api-token")) << "server-credential\n";
    REQUIRE(api->Create("serviceaccounts", "team", {{"metadata", {{"name", "runner"}}}}).ok());
    for (const char* name : {"a", "b", "c"}) {
      auto pod = api->Create("pods", "team",
                             {{"metadata", {{"name", name}}},
                              {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "x"}}})}}}});
      REQUIRE(pod.ok());
      uids[name] = (*pod)["metadata"]["uid"];
    }
    std::vector<std::string> flags = {"--pod-token-review",    "--kube-api-server",   api->url(),
                                      "--kube-api-token-file", dir.File("api-token"), "--control-listen",
                                      "127.0.0.1:0",           "--metrics-listen",    "127.0.0.1:0"};
    flags.insert(flags.end(), kOperatorControlFlags.begin(), kOperatorControlFlags.end());
    flags.insert(flags.end(), extra.begin(), extra.end());
    server.emplace(ServerProcess::Start(flags));
    operator_token = OperatorToken(*api);
    REQUIRE(!operator_token.empty());
    auto stub = ControlStub(server->control);
    control::v1::Inventory inventory;
    REQUIRE(stub->GetInventory(ControlContext(operator_token).get(), {}, &inventory).ok());
    for (const char* name : {"a", "c"}) {
      control::v1::AdmitResponse admitted;
      REQUIRE(stub->Admit(ControlContext(operator_token).get(),
                          AdmitRequest(uids[name], inventory.gpus(0).uuid(), 10, kShare, "team", name),
                          &admitted)
                  .ok());
    }
  }

  std::string Token(const std::string& pod, const std::string& audience = "gpupool.io") {
    auto issued =
        api->CreateToken("team", "runner",
                         {{"audiences", {audience}},
                          {"expirationSeconds", 3600},
                          {"boundObjectRef", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", pod}}}});
    REQUIRE(issued.ok());
    return (*issued)["status"]["token"];
  }

  Result<std::uint64_t> Hello(const std::string& pod_token, const std::string& claimed_uid = "") {
    TestClient client = TestClient::Raw(server->endpoint);
    return client.Hello(claimed_uid, "", pod_token);
  }

  long Reviews() { return api->RequestCounts()["create"]; }
};

void CheckRefused(const Result<std::uint64_t>& answer, Code code, const std::string& reason) {
  INFO(answer.status().ToString());
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.status().code() == code);
  CHECK_THAT(answer.status().message(), Catch::Contains(reason));
}

TEST_CASE("pod tokens: a bound token of an admitted pod gets that pod's session") {
  Cluster cluster;
  // No claimed UID: the token alone says which pod, and the session gets that pod's memory share.
  TestClient pod = TestClient::Raw(cluster.server->endpoint);
  REQUIRE(pod.Hello("", "", cluster.Token("a")).ok());
  pod.UseDevice0();
  auto info = pod.Call<Op::MemGetInfo>({});
  REQUIRE(info.result == CUDA_SUCCESS);
  CHECK(std::get<1>(info.fields) == kShare);
  // Claiming the right UID is fine too.
  CHECK(cluster.Hello(cluster.Token("a"), cluster.uids["a"]).ok());
}

TEST_CASE("pod tokens: every other client is refused with its reason, counted by reason") {
  Cluster cluster;
  CheckRefused(cluster.Hello(""), Code::kUnauthenticated, "requires the pod's service-account token");
  CheckRefused(cluster.Hello(cluster.Token("a", "another-audience")), Code::kUnauthenticated, "audience");
  CheckRefused(cluster.Hello("not-a-token"), Code::kUnauthenticated, "rejected the pod token");
  CheckRefused(cluster.Hello(cluster.Token("b")), Code::kPermissionDenied,
               "pod " + cluster.uids["b"] + " is not admitted");
  CheckRefused(cluster.Hello(cluster.Token("a"), cluster.uids["c"]), Code::kPermissionDenied,
               "claims pod " + cluster.uids["c"] + " but the token is bound to pod team/a");

  const std::string expired = cluster.Token("a");
  cluster.api->AdvanceClock(std::chrono::seconds(3601));
  CheckRefused(cluster.Hello(expired), Code::kUnauthenticated, "expired");
  cluster.api->AdvanceClock(std::chrono::seconds(-3601));

  const std::string of_deleted_pod = cluster.Token("c");
  REQUIRE(cluster.api->Delete("pods", "team", "c").ok());  // admitted, but the pod is gone
  CheckRefused(cluster.Hello(of_deleted_pod), Code::kUnauthenticated, "invalidated");

  const std::string page = HttpGet(cluster.server->metrics, "/metrics");
  CHECK_THAT(page, Catch::Contains("gpupool_auth_failures_total{reason=\"pod_token_missing\"} 1"));
  CHECK_THAT(page, Catch::Contains("gpupool_auth_failures_total{reason=\"pod_token_rejected\"} 4"));
  CHECK_THAT(page, Catch::Contains("gpupool_auth_failures_total{reason=\"not_admitted\"} 1"));
  CHECK_THAT(page, Catch::Contains("gpupool_auth_failures_total{reason=\"pod_uid_mismatch\"} 1"));
}

TEST_CASE("pod tokens: the Unix socket offered to pods on the node checks them exactly as TCP does") {
  TempDir sockets;
  const Endpoint local{Endpoint::Kind::kUnix, "", 0, sockets.File("server.sock")};
  Cluster cluster({"--unix", local.path, "--unix-mode", "0666"});
  TestClient pod = TestClient::Raw(local);
  REQUIRE(pod.Hello("", "", cluster.Token("a")).ok());
  pod.UseDevice0();
  auto info = pod.Call<Op::MemGetInfo>({});
  REQUIRE(info.result == CUDA_SUCCESS);
  CHECK(std::get<1>(info.fields) == kShare);  // the admitted pod's share, as over TCP
  auto hello = [&local](const std::string& token, const std::string& uid = "") {
    return TestClient::Raw(local).Hello(uid, "", token);
  };
  CheckRefused(hello(""), Code::kUnauthenticated, "requires the pod's service-account token");
  CheckRefused(hello("not-a-token"), Code::kUnauthenticated, "rejected the pod token");
  CheckRefused(hello(cluster.Token("b")), Code::kPermissionDenied,
               "pod " + cluster.uids["b"] + " is not admitted");
  CheckRefused(hello(cluster.Token("a"), cluster.uids["c"]), Code::kPermissionDenied,
               "but the token is bound to");
  const std::string page = HttpGet(cluster.server->metrics, "/metrics");
  CHECK_THAT(page, Catch::Contains("gpupool_auth_failures_total{reason=\"not_admitted\"} 1"));
}

TEST_CASE("pod tokens: an accepted token is not reviewed again while cached") {
  Cluster cluster;
  const std::string token = cluster.Token("a");
  cluster.api->ResetRequestCounts();
  for (int i = 0; i < 3; ++i) REQUIRE(cluster.Hello(token).ok());
  CHECK(cluster.Reviews() == 1);
  REQUIRE(cluster.Hello(cluster.Token("a")).ok());  // another token: its own review
  CHECK(cluster.Reviews() == 2);
  // A valid token of a pod not admitted here: the review is cached, the admission checked each time.
  const std::string foreign = cluster.Token("b");
  CHECK(cluster.Hello(foreign).status().code() == Code::kPermissionDenied);
  CHECK(cluster.Hello(foreign).status().code() == Code::kPermissionDenied);
  CHECK(cluster.Reviews() == 3);
  // Rejections are not cached: each is asked again.
  const std::string rejected = cluster.Token("a", "another-audience");
  CHECK(cluster.Hello(rejected).status().code() == Code::kUnauthenticated);
  CHECK(cluster.Hello(rejected).status().code() == Code::kUnauthenticated);
  CHECK(cluster.Reviews() == 5);
}

TEST_CASE("pod tokens: without a cache every session is reviewed") {
  Cluster cluster({"--pod-token-cache-ttl", "0"});
  const std::string token = cluster.Token("a");
  cluster.api->ResetRequestCounts();
  REQUIRE(cluster.Hello(token).ok());
  REQUIRE(cluster.Hello(token).ok());
  CHECK(cluster.Reviews() == 2);
}

TEST_CASE("pod tokens: a slow or absent Kubernetes API fails the handshake closed, within its deadline") {
  Cluster cluster;
  const std::string slow = cluster.Token("a");
  const std::string down = cluster.Token("a");
  cluster.api->DelayRequests(std::chrono::seconds(30), "create");
  auto start = Clock::now();
  CheckRefused(cluster.Hello(slow), Code::kUnauthenticated,
               "did not answer the TokenReview before the handshake");
  // The handshake deadline is 5 s; the bound only catches a handshake that waits for the API.
  CHECK(Clock::now() - start < std::chrono::seconds(15));

  cluster.api.reset();  // the API server is gone: connection refused
  start = Clock::now();
  CheckRefused(cluster.Hello(down), Code::kUnauthenticated, "could not be checked");
  CHECK(Clock::now() - start < std::chrono::seconds(15));
  const std::string page = HttpGet(cluster.server->metrics, "/metrics");
  CHECK_THAT(page, Catch::Contains("gpupool_auth_failures_total{reason=\"token_review_failed\"} 2"));
}

TEST_CASE("pod tokens: with --token-file too, clients outside the cluster use the shared token") {
  TempDir dir;
  std::ofstream(dir.File("token")) << "s3cret\n";
  Cluster cluster({"--token-file", dir.File("token")});
  TestClient outside = TestClient::Raw(cluster.server->endpoint);
  CHECK(outside.Hello("", "s3cret").ok());
  TestClient wrong = TestClient::Raw(cluster.server->endpoint);
  CHECK(wrong.Hello("", "guess").status().code() == Code::kUnauthenticated);
  CHECK(cluster.Hello(cluster.Token("a")).ok());  // a pod needs no shared token
}

}  // namespace
}  // namespace gpupool::testing

namespace gpupool::testing {
namespace {

TEST_CASE("pod tokens: the Control API takes the operator's service-account token, and no other") {
  Cluster cluster;
  auto stub = ControlStub(cluster.server->control);
  control::v1::Inventory inventory;
  CHECK(stub->GetInventory(ControlContext(cluster.operator_token).get(), {}, &inventory).ok());
  const grpc::Status none = stub->GetInventory(ControlContext().get(), {}, &inventory);
  CHECK(none.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  // A tenant pod's valid token is a service account too, but not one allowed to admit pods.
  control::v1::AdmitResponse admitted;
  const grpc::Status tenant =
      stub->Admit(ControlContext(cluster.Token("b")).get(),
                  AdmitRequest(cluster.uids["b"], inventory.gpus(0).uuid(), 90, kShare), &admitted);
  CHECK(tenant.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(tenant.error_message(), Catch::Contains("team:runner"));
  const grpc::Status forged = stub->GetInventory(ControlContext("not-a-token").get(), {}, &inventory);
  CHECK(forged.error_code() == grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace gpupool::testing
