// The gpupool-operator binary as the chart runs it (tls.mode=operator), against the fake API
// server: it fills the webhook TLS Secret, writes the CA into the webhook configuration, serves the
// webhook over HTTPS with that CA, reports ready, binds a pod, and stops cleanly on SIGTERM.
#include <cpprest/http_client.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>

#include "common/kube/base64.h"
#include "operator/controllers/control_client.h"
#include "operator/webhook/bootstrap.h"
#include "tests/operator/kube_test_util.h"
#include "tests/operator/scenario_env.h"
#include "tests/support/process.h"

namespace gpupool::testing {
namespace {

int PortFrom(const std::string& line) {
  return std::stoi(line.substr(line.rfind(' ') + 1));
}

TEST_CASE("gpupool-operator: TLS bootstrap, webhook, readiness, binding, clean stop") {
  ScenarioEnv env;
  env.AddServer("a", 1);
  env.CreatePool();
  REQUIRE(env.api()
              .Create("secrets", "gpupool", {{"metadata", {{"name", "webhook-tls"}}}, {"type", "Opaque"}})
              .ok());
  REQUIRE(env.api().Create("mutatingwebhookconfigurations", "", TestWebhookConfiguration()).ok());
  TempDir dir;
  std::ofstream(dir.File("kubeconfig")) << env.api().Kubeconfig();
  SubprocessOptions options;
  options.env["POD_NAMESPACE"] = "gpupool";
  auto op = Subprocess::Start(
      {BinDir() + "/gpupool-operator", "--kubeconfig", dir.File("kubeconfig"), "--leader-elect=true",
       "--leader-election-lease=gpupool-operator", "--webhook-listen=127.0.0.1:0",
       "--webhook-configuration=gpupool", "--webhook-service=op", "--webhook-tls-secret=webhook-tls",
       "--metrics-listen=127.0.0.1:0", "--server-tls-secret=server-tls",
       "--server-tls-server-name=gpupool-server"},
      options);
  REQUIRE(op.ok());
  auto metrics_line = op->WaitForLine("metrics listening on port", std::chrono::seconds(30));
  INFO(op->output());
  REQUIRE(metrics_line.ok());
  auto webhook_line = op->WaitForLine("webhook listening on port", std::chrono::seconds(30));
  INFO(op->output());
  REQUIRE(webhook_line.ok());
  REQUIRE(op->WaitForLine("operator started", std::chrono::seconds(30)).ok());

  auto secret = env.api().Get("secrets", "gpupool", "webhook-tls");
  REQUIRE(secret.ok());
  auto ca = kube::Base64Decode((*secret)["data"]["ca.crt"].get<std::string>());
  REQUIRE(ca.ok());
  CHECK_THAT(*ca, Catch::StartsWith("-----BEGIN CERTIFICATE-----"));
  auto config = env.api().Get("mutatingwebhookconfigurations", "", "gpupool");
  REQUIRE(config.ok());
  CHECK((*config)["webhooks"][0]["clientConfig"]["caBundle"] == (*secret)["data"]["ca.crt"]);

  // The webhook answers over TLS with a certificate for op.gpupool.svc, signed by that CA.
  web::http::client::http_client_config tls;
  const std::string ca_pem = *ca;
  tls.set_ssl_context_callback([ca_pem](boost::asio::ssl::context& ctx) {
    ctx.add_certificate_authority(boost::asio::buffer(ca_pem));
  });
  tls.set_validate_certificates(true);
  web::http::client::http_client webhook("https://127.0.0.1:" + std::to_string(PortFrom(*webhook_line)), tls);
  // The certificate names the Service, not 127.0.0.1: verification must fail here...
  CHECK_THROWS(webhook.request(web::http::methods::POST, "/mutate-pods", "{}").get());

  // Filling each Secret is an Event on it (kubectl describe secret).
  for (const char* filled : {"webhook-tls", "server-tls"}) {
    CAPTURE(filled);
    bool created = false;
    for (const nlohmann::json& e : env.api().List("events", "gpupool")) {
      created = created || (e["involvedObject"].value("kind", "") == "Secret" &&
                            e["involvedObject"].value("name", "") == filled &&
                            e.value("reason", "") == "CertificateCreated" && e.value("type", "") == "Normal");
    }
    CHECK(created);
  }

  // The servers' Secret: a gpupool-server serving its certificate is trusted, under the name
  // gpupool-server, by a client that holds only its ca.crt (what the chart wires).
  auto server_secret = env.api().Get("secrets", "gpupool", "server-tls");
  REQUIRE(server_secret.ok());
  for (const char* key : {"tls.crt", "tls.key", "ca.crt"}) {
    auto pem = kube::Base64Decode((*server_secret)["data"][key].get<std::string>());
    REQUIRE(pem.ok());
    std::ofstream(dir.File(key)) << *pem;
  }
  auto gpu_server = Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--listen",
                                       "127.0.0.1:0", "--control-listen", "127.0.0.1:0", "--tls-cert-file",
                                       dir.File("tls.crt"), "--tls-key-file", dir.File("tls.key")});
  REQUIRE(gpu_server.ok());
  auto control_line = gpu_server->WaitForLine("control on 127.0.0.1:", std::chrono::seconds(30));
  REQUIRE(control_line.ok());
  std::string control_address = control_line->substr(control_line->find("127.0.0.1:"));
  while (!control_address.empty() && std::isspace(static_cast<unsigned char>(control_address.back())))
    control_address.pop_back();
  control::ControlAccess access;
  access.tls_ca_file = dir.File("ca.crt");
  access.tls_server_name = "gpupool-server";
  CHECK(controllers::NewGrpcControlClient({}, access)->GetInventory(control_address).ok());
  access.tls_server_name = "another-name";
  CHECK_FALSE(controllers::NewGrpcControlClient({}, access)->GetInventory(control_address).ok());

  web::http::client::http_client metrics("http://127.0.0.1:" + std::to_string(PortFrom(*metrics_line)));
  REQUIRE(WaitFor(
      [&] { return metrics.request(web::http::methods::GET, "/readyz").get().status_code() == 200; }));
  env.CreatePod("p", 50);
  REQUIRE(WaitFor([&] { return !env.Gated("p"); }));
  REQUIRE(WaitFor([&] {
    return metrics.request(web::http::methods::GET, "/metrics")
               .get()
               .extract_string()
               .get()
               .find("gpupool_operator_pods_bound_total{pool=\"default\"} 1") != std::string::npos;
  }));

  op->Signal(SIGTERM);
  auto code = op->Wait(std::chrono::seconds(30));
  REQUIRE(code.ok());
  CHECK(*code == 0);
  // The Lease was released on the way out, so a successor need not wait for it to expire.
  auto lease = env.api().Get("leases", "gpupool", "gpupool-operator");
  REQUIRE(lease.ok());
  CHECK((*lease)["spec"].value("holderIdentity", std::string()).empty());
}

TEST_CASE("gpupool-operator: bad flags and an unreachable API server are clear errors") {
  auto bad = Subprocess::Start({BinDir() + "/gpupool-operator", "--nope"});
  REQUIRE(bad.ok());
  CHECK(*bad->Wait(std::chrono::seconds(10)) == 2);
  CHECK_THAT(bad->output(), Catch::Contains("unknown flag --nope"));
  TempDir dir;
  std::ofstream(dir.File("kubeconfig")) << "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
                                           "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                                           "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
                                           "users: [{name: u, user: {token: t}}]\n";
  auto down =
      Subprocess::Start({BinDir() + "/gpupool-operator", "--kubeconfig", dir.File("kubeconfig"),
                         "--webhook-listen=127.0.0.1:0", "--metrics-listen=", "--webhook-tls-secret=s"});
  REQUIRE(down.ok());
  auto code = down->Wait(std::chrono::seconds(60));
  REQUIRE(code.ok());
  CHECK(*code == 1);
  CHECK_THAT(down->output(), Catch::Contains("gpupool-operator: webhook TLS:"));
}

}  // namespace
}  // namespace gpupool::testing
