// The fake API server checked by independent clients: kubectl and Debian's python3-kubernetes.
// Each test compares what the client saw with what the server (and our own watch) saw. When a
// client is not installed the test says SKIPPED and why.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <sstream>

#include "common/kube/base64.h"
#include "tests/operator/client_tools.h"
#include "tests/operator/kube_test_util.h"

namespace gpupool::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// Our own record of everything that happens to pods, to compare with the clients' views.
struct Observer {
  std::unique_ptr<kube::RestClient> client;
  std::unique_ptr<kube::WatchStream> watch;
  explicit Observer(const FakeApiServer& server) : client(ClientFor(server)) {
    kube::ListOptions o;
    o.resource_version = std::to_string(server.ResourceVersion());
    watch = std::move(client->Watch(kube::Pods(), "default", o)).value();
  }
  // Events up to and including the deletion of `name`: "TYPE:name:rv".
  std::vector<std::string> UntilDeleted(const std::string& name) {
    std::vector<std::string> out;
    while (true) {
      auto e = watch->Next();
      if (!e.ok() || !e->has_value()) break;
      out.push_back(std::string(kube::WatchEventTypeName((*e)->type)) + ":" + kube::NameOf((*e)->object) +
                    ":" + kube::ResourceVersionOf((*e)->object));
      if ((*e)->type == kube::WatchEvent::Type::kDeleted && kube::NameOf((*e)->object) == name) break;
    }
    return out;
  }
};

// A fake API server and kubectl's command line for it (namespace default, a kubeconfig and cache of
// its own).
struct KubectlEnv {
  std::unique_ptr<FakeApiServer> server = StartFake();
  TempDir dir;
  std::vector<std::string> base;

  // Null, with a SKIPPED warning, when kubectl is not installed.
  static std::unique_ptr<KubectlEnv> Start() {
    const std::string kubectl = FindOnPath("kubectl");
    if (kubectl.empty()) {
      WARN("SKIPPED: kubectl is not on PATH");
      return nullptr;
    }
    auto env = std::make_unique<KubectlEnv>();
    std::ofstream(env->dir.File("kubeconfig")) << env->server->Kubeconfig();
    env->base = {kubectl, "--kubeconfig", env->dir.File("kubeconfig"), "--cache-dir", env->dir.File("cache"),
                 "-n",    "default"};
    return env;
  }
  std::vector<std::string> operator()(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
};

TEST_CASE("kubectl sees what the server stores", "[fake_apiserver][kubectl]") {
  auto env = KubectlEnv::Start();
  if (!env) return;
  const KubectlEnv& k = *env;
  auto& server = env->server;
  TempDir& dir = env->dir;
  Observer ours(*server);
  long long before = server->ResourceVersion();
  std::ofstream(dir.File("pod.json")) << TestPod("k-pod", "default", {{"app", "k"}}).dump();
  auto created = Run(k({"create", "-f", dir.File("pod.json"), "--validate=false", "-o", "json"}));
  REQUIRE(created.ok());
  Json c = Json::parse(*created);
  Json stored = *server->Get("pods", "default", "k-pod");
  CHECK(c["metadata"]["uid"] == stored["metadata"]["uid"]);
  CHECK(c["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]);

  auto listed = Run(k({"get", "pods", "-l", "app=k", "-o", "json"}));
  REQUIRE(listed.ok());
  Json l = Json::parse(*listed);
  REQUIRE(l["items"].size() == 1);
  CHECK(l["items"][0]["metadata"]["name"] == "k-pod");
  auto none = Run(k({"get", "pods", "-l", "app=nothing", "-o", "json"}));
  CHECK(Json::parse(*none)["items"].empty());

  REQUIRE(Run(k({"patch", "pod", "k-pod", "--type=merge", "-p", R"({"metadata":{"annotations":{"a":"1"}}})"}))
              .ok());
  REQUIRE(Run(k({"patch", "pod", "k-pod", "-p",
                 R"({"spec":{"schedulingGates":[{"$patch":"delete","name":"gpupool.io/binding"}]}})"}))
              .ok());
  stored = *server->Get("pods", "default", "k-pod");
  CHECK(stored["metadata"]["annotations"]["a"] == "1");
  CHECK_FALSE(stored["spec"].contains("schedulingGates"));

  // A replace carrying the creation's resourceVersion is stale: kubectl reports the conflict.
  c["metadata"]["labels"]["extra"] = "1";
  c["spec"].erase("schedulingGates");
  std::ofstream(dir.File("stale.json")) << c.dump();
  int code = 0;
  auto stale = Run(k({"replace", "-f", dir.File("stale.json"), "--validate=false"}), &code);
  REQUIRE(stale.ok());
  CHECK(code != 0);
  CHECK_THAT(*stale, Catch::Contains("the object has been modified"));

  // A raw watch from the version before the create: kubectl receives the same event lines we do.
  auto raw = Run(k({"get", "--raw",
                    "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1&resourceVersion=" +
                        std::to_string(before)}));
  REQUIRE(raw.ok());
  std::vector<std::string> theirs;
  std::stringstream lines(*raw);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    Json e = Json::parse(line);
    theirs.push_back(e["type"].get<std::string>() + ":" + e["object"]["metadata"]["name"].get<std::string>() +
                     ":" + e["object"]["metadata"]["resourceVersion"].get<std::string>());
  }
  REQUIRE(Run(k({"delete", "pod", "k-pod", "--wait=true", "--timeout=30s"})).ok());  // waits with a watch
  CHECK(server->Get("pods", "default", "k-pod").status().code() == Code::kNotFound);
  std::vector<std::string> mine = ours.UntilDeleted("k-pod");
  REQUIRE(mine.size() == theirs.size() + 1);
  CHECK(std::vector<std::string>(mine.begin(), mine.end() - 1) == theirs);

  server->Compact();
  auto expired = Run(k(
      {"get", "--raw", "/api/v1/namespaces/default/pods?watch=1&resourceVersion=" + std::to_string(before)}));
  REQUIRE(expired.ok());
  Json err = Json::parse(*expired);
  CHECK(err["type"] == "ERROR");
  CHECK(err["object"]["code"] == 410);
  CHECK(err["object"]["reason"] == "Expired");
}

TEST_CASE("kubectl create token and a TokenReview through kubectl", "[fake_apiserver][kubectl][tokens]") {
  auto env = KubectlEnv::Start();
  if (!env) return;
  const KubectlEnv& k = *env;
  auto& server = env->server;
  TempDir& dir = env->dir;
  REQUIRE(server->Create("serviceaccounts", "default", {{"metadata", {{"name", "runner"}}}}).ok());
  auto pod = server->Create("pods", "default", TestPod("p"));
  REQUIRE(pod.ok());
  auto token = Run(k({"create", "token", "runner", "--audience", "gpupool.io", "--bound-object-kind", "Pod",
                      "--bound-object-name", "p", "--duration", "10m"}));
  INFO(token.status().ToString());
  REQUIRE(token.ok());
  std::string jwt = *token;
  while (!jwt.empty() && std::isspace(static_cast<unsigned char>(jwt.back()))) jwt.pop_back();
  REQUIRE(std::count(jwt.begin(), jwt.end(), '.') == 2);
  // kubectl sends the TokenRequest as protobuf: its --audience and --duration arrived.
  const auto first = jwt.find('.');
  auto claims = kube::Base64UrlDecode(jwt.substr(first + 1, jwt.rfind('.') - first - 1));
  REQUIRE(claims.ok());
  const Json c = Json::parse(*claims);
  CHECK(c["aud"] == Json::array({"gpupool.io"}));
  CHECK(c["exp"].get<long long>() - c["iat"].get<long long>() == 600);

  auto review = [&](const Json& audiences) {
    std::ofstream(dir.File("review.json")) << Json{{"apiVersion", "authentication.k8s.io/v1"},
                                                   {"kind", "TokenReview"},
                                                   {"spec", {{"token", jwt}, {"audiences", audiences}}}}
                                                  .dump();
    auto out = Run(k({"create", "-f", dir.File("review.json"), "--validate=false", "-o", "json"}));
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    return Json::parse(*out)["status"];
  };
  Json status = review({"gpupool.io"});
  CHECK(status["authenticated"] == true);
  CHECK(status["user"]["username"] == "system:serviceaccount:default:runner");
  CHECK(status["user"]["extra"]["authentication.kubernetes.io/pod-uid"][0] == (*pod)["metadata"]["uid"]);
  CHECK(status["user"]["extra"]["authentication.kubernetes.io/pod-name"][0] == "p");
  CHECK(review({"another-audience"})["authenticated"] == false);

  int code = 0;
  auto absent = Run(k({"create", "token", "nobody", "--audience", "gpupool.io"}), &code);
  REQUIRE(absent.ok());
  CHECK(code != 0);
  CHECK_THAT(*absent, Catch::Contains("not found"));

  REQUIRE(Run(k({"delete", "pod", "p", "--wait=false"})).ok());
  CHECK(review({"gpupool.io"})["authenticated"] == false);  // bound to a pod that is gone
}

TEST_CASE("python3-kubernetes sees what the server stores", "[fake_apiserver][python]") {
  const std::string python = "/usr/bin/python3";
  int code = 0;
  auto probe = Run({python, "-c", "import kubernetes"}, &code);
  if (!probe.ok() || code != 0) {
    WARN("SKIPPED: /usr/bin/python3 cannot import kubernetes (Debian package python3-kubernetes)");
    return;
  }
  auto server = StartFake();
  TempDir dir;
  std::ofstream(dir.File("kubeconfig")) << server->Kubeconfig();
  REQUIRE(server->Create("pods", "default", TestPod("old")).ok());
  std::string stale_rv = std::to_string(server->ResourceVersion() - 1);
  REQUIRE(server->Delete("pods", "default", "old").ok());
  server->Compact();
  Observer ours(*server);
  auto out = Run({python, SourceDir() + "/tests/operator/fake_apiserver_python_check.py",
                  dir.File("kubeconfig"), stale_rv});
  REQUIRE(out.ok());
  Json seen = Json::object();
  std::stringstream lines(*out);
  std::string line;
  while (std::getline(lines, line)) {
    Json j = Json::parse(line, nullptr, false);
    if (j.is_object()) seen.update(j);
  }
  INFO(*out);
  REQUIRE(seen.value("done", false));
  std::vector<std::string> mine = ours.UntilDeleted("py-pod");
  // ADDED, MODIFIED (annotation), MODIFIED (pinned to a node), MODIFIED (gate removed), DELETED
  REQUIRE(mine.size() == 5);
  CHECK(mine[0] == "ADDED:py-pod:" + seen["created_rv"].get<std::string>());
  CHECK(seen["get_rv"] == seen["created_rv"]);
  CHECK(seen["list_names"] == Json::array({"py-pod"}));
  CHECK(seen["list_rv"] == seen["created_rv"]);  // nothing happened in between
  CHECK(seen["annotations"]["gpupool.io/binding"] == "{}");
  CHECK(seen["node_selector"] == Json{{"kubernetes.io/hostname", "gpu-01"}});
  CHECK(seen["repin"] == Json::array({422, "Invalid"}));
  CHECK(seen["gates_after"].is_null());
  CHECK(seen["stale_update"] == Json::array({409, "Conflict"}));
  Json theirs = seen["events"];
  REQUIRE(theirs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(mine[i + 1] == theirs[i][0].get<std::string>() + ":" + theirs[i][1].get<std::string>() + ":" +
                             theirs[i][2].get<std::string>());
  }
  CHECK(seen["expired"] == 410);
  CHECK(seen["after_delete"] == 404);
}

}  // namespace
}  // namespace gpupool::testing
