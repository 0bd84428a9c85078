// Cluster configuration: kubeconfig variants, in-cluster, token files that rotate.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>

#include "common/kube/config.h"
#include "common/kube/rest_client.h"
#include "tests/support/process.h"

namespace gpupool::kube {
namespace {

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kAlphabet[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kAlphabet[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

std::string Kubeconfig(const std::string& user, const std::string& cluster_extra = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: main\n"
         "clusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443\n" +
         cluster_extra +
         "- name: c2\n  cluster:\n    server: https://10.0.0.2:6443\n    insecure-skip-tls-verify: true\n"
         "contexts:\n- name: main\n  context: {cluster: c1, user: u1, namespace: gpupool}\n"
         "- name: other\n  context: {cluster: c2, user: u1}\n"
         "users:\n- name: u1\n  user:\n" +
         user;
}

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST_CASE("config: kubeconfig variants", "[kube]") {
  testing::TempDir dir;
  std::ofstream(dir.File("ca.crt")) << "CA-PEM";
  std::ofstream(dir.File("tok")) << "file-token\n";
  std::ofstream(dir.File("client.crt")) << "CERT-PEM";
  std::ofstream(dir.File("client.key")) << "KEY-PEM";

  auto token = ParseKubeconfig(
      Kubeconfig("    token: abc\n", "    certificate-authority-data: " + Base64("CA1") + "\n"), dir.path());
  REQUIRE(token.ok());
  CHECK(token->server == "https://10.0.0.1:6443");
  CHECK(token->namespace_ == "gpupool");
  CHECK(token->ca_pem == "CA1");
  CHECK_FALSE(token->insecure_skip_tls_verify);
  REQUIRE(token->token);
  CHECK(*token->token->Token() == "abc");

  auto files = ParseKubeconfig(Kubeconfig("    tokenFile: tok\n    client-certificate: client.crt\n"
                                          "    client-key: client.key\n",
                                          "    certificate-authority: ca.crt\n"),
                               dir.path());
  REQUIRE(files.ok());
  CHECK(files->ca_pem == "CA-PEM");
  CHECK(files->client_cert_pem == "CERT-PEM");
  CHECK(files->client_key_pem == "KEY-PEM");
  CHECK(*files->token->Token() == "file-token");

  auto data = ParseKubeconfig(Kubeconfig("    client-certificate-data: " + Base64("C") +
                                         "\n    client-key-data: " + Base64("K") + "\n"),
                              dir.path(), "other");
  REQUIRE(data.ok());
  CHECK(data->server == "https://10.0.0.2:6443");
  CHECK(data->insecure_skip_tls_verify);
  CHECK(data->client_cert_pem == "C");
  CHECK(data->client_key_pem == "K");
  CHECK(data->token == nullptr);

  // Written to disk and loaded by path; JSON is YAML too.
  std::ofstream(dir.File("config")) << Kubeconfig("    token: xyz\n");
  CHECK(*(*LoadKubeconfig(dir.File("config"))).token->Token() == "xyz");
  CHECK(ParseKubeconfig(R"({"current-context":"m","contexts":[{"name":"m","context":{"cluster":"c"}}],
                          "clusters":[{"name":"c","cluster":{"server":"http://127.0.0.1:1"}}]})",
                        "")
            .ok());
}

TEST_CASE("config: bad kubeconfigs are refused with a reason", "[kube]") {
  struct Case {
    std::string name, text, context;
    Code code;
    std::string mentions;
  };
  std::vector<Case> cases = {
      {"not yaml", "{{{", "", Code::kInvalidArgument, "YAML"},
      {"no context", "apiVersion: v1\nkind: Config\n", "", Code::kInvalidArgument, "current-context"},
      {"unknown context", Kubeconfig("    token: a\n"), "nope", Code::kNotFound, "nope"},
      {"exec user", Kubeconfig("    exec: {command: aws}\n"), "", Code::kUnimplemented, "exec"},
      {"cert without key", Kubeconfig("    client-certificate-data: " + Base64("C") + "\n"), "",
       Code::kInvalidArgument, "key"},
      {"bad base64", Kubeconfig("    token: a\n", "    certificate-authority-data: '!!!'\n"), "",
       Code::kInvalidArgument, "base64"},
      {"missing file", Kubeconfig("    tokenFile: /nonexistent/token\n"), "", Code::kNotFound, "token"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto r = ParseKubeconfig(c.text, "/tmp", c.context);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == c.code);
    CHECK_THAT(r.status().message(), Catch::Contains(c.mentions));
  }
  CHECK(LoadKubeconfig("/nonexistent/kubeconfig").status().code() == Code::kNotFound);
}

TEST_CASE("config: in-cluster service account", "[kube]") {
  testing::TempDir dir;
  std::ofstream(dir.File("token")) << "sa-token\n";
  std::ofstream(dir.File("ca.crt")) << "CA";
  std::ofstream(dir.File("namespace")) << "gpupool-system";
  InClusterPaths paths{dir.File("token"), dir.File("ca.crt"), dir.File("namespace")};
  auto c = InClusterConfig(
      Env({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}), paths);
  REQUIRE(c.ok());
  CHECK(c->server == "https://10.96.0.1:443");
  CHECK(c->ca_pem == "CA");
  CHECK(c->namespace_ == "gpupool-system");
  CHECK(*c->token->Token() == "sa-token");
  auto v6 = InClusterConfig(Env({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
                            paths);
  CHECK(v6->server == "https://[fd00::1]:443");
  CHECK(InClusterConfig(Env({}), paths).status().code() == Code::kFailedPrecondition);
  InClusterPaths no_token = paths;
  no_token.token_file = dir.File("absent");
  CHECK_FALSE(
      InClusterConfig(Env({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}}), no_token)
          .ok());

  // --kubeconfig wins over in-cluster, which wins over $KUBECONFIG.
  std::ofstream(dir.File("kc")) << Kubeconfig("    token: k\n");
  CHECK(ResolveConfig(dir.File("kc"), Env({{"KUBERNETES_SERVICE_HOST", "h"}}))->server ==
        "https://10.0.0.1:6443");
  CHECK(ResolveConfig("", Env({{"KUBECONFIG", dir.File("kc") + ":/other"}}))->server ==
        "https://10.0.0.1:6443");
  CHECK(ResolveConfig("", Env({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBECONFIG", dir.File("kc")}}))
            .status()
            .code() !=
        Code::kOk);  // in cluster (without the files here): it does not fall back to $KUBECONFIG
}

TEST_CASE("config: token files are re-read when they change or age", "[kube]") {
  testing::TempDir dir;
  std::string path = dir.File("token");
  std::ofstream(path) << "one\n";
  auto source = TokenSource::FromFile(path, std::chrono::hours(1));
  CHECK(*source->Token() == "one");
  CHECK(*source->Token() == "one");
  CHECK(source->reads() == 1);        // unchanged file, young copy: no re-read
  std::ofstream(path) << "second\n";  // the kubelet's rotation changes size and mtime
  CHECK(*source->Token() == "second");
  source->Invalidate();
  CHECK(*source->Token() == "second");
  CHECK(source->reads() == 3);
  std::ofstream(path) << "";  // a bad rotation keeps the last good token
  CHECK(*source->Token() == "second");

  auto aging = TokenSource::FromFile(path, std::chrono::milliseconds(0));
  std::ofstream(path) << "three\n";
  CHECK(*aging->Token() == "three");
  CHECK(*aging->Token() == "three");
  CHECK(aging->reads() == 2);  // max_age 0: every call re-reads (the 1-minute rule, compressed)
  CHECK(TokenSource::FromFile(dir.File("absent"))->Token().status().code() == Code::kNotFound);
}

TEST_CASE("config: unusable TLS material and addresses are refused", "[kube]") {
  ClusterConfig c;
  c.server = "https://127.0.0.1:6443";
  c.ca_pem = "not a certificate";
  CHECK(RestClient::Create(c).status().code() == Code::kInvalidArgument);
  c.ca_pem.clear();
  c.server = "ftp://x";
  CHECK(RestClient::Create(c).status().code() == Code::kInvalidArgument);
  c.server = "https://127.0.0.1:6443";
  CHECK(RestClient::Create(c).ok());
}

}  // namespace
}  // namespace gpupool::kube
