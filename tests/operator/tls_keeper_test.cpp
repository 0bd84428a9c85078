// Certificates kept current while the operator runs: the TLS Secrets it keeps are renewed before they
// end (from the same CA when it can), the webhook's caBundle follows a new CA, and a renewed webhook
// certificate (in the Secret or in a cert-manager directory) reaches the server.
#include "operator/webhook/tls_keeper.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>

#include "common/kube/base64.h"
#include "tests/operator/kube_test_util.h"
#include "tests/support/process.h"

namespace gpupool::testing {
namespace {

using Json = nlohmann::json;
using webhook::TlsKeeper;
using webhook::TlsMaterial;
using namespace std::chrono_literals;

std::string Data(const FakeApiServer& api, const std::string& secret, const std::string& key) {
  auto stored = api.Get("secrets", "gpupool", secret);
  REQUIRE(stored.ok());
  auto decoded = kube::Base64Decode((*stored)["data"].value(key, std::string()));
  REQUIRE(decoded.ok());
  return *decoded;
}

void StoreSecret(FakeApiServer& api, const std::string& name, const TlsMaterial& m) {
  Json data = {{"tls.crt", kube::Base64(m.cert_pem)},
               {"tls.key", kube::Base64(m.key_pem)},
               {"ca.crt", kube::Base64(m.ca_pem)}};
  if (!m.ca_key_pem.empty()) data["ca.key"] = kube::Base64(m.ca_key_pem);
  REQUIRE(
      api.Create("secrets", "gpupool", {{"metadata", {{"name", name}}}, {"type", "Opaque"}, {"data", data}})
          .ok());
}

int Certificates(const std::string& pem) {
  int n = 0;
  for (auto at = pem.find("BEGIN CERTIFICATE"); at != std::string::npos;
       at = pem.find("BEGIN CERTIFICATE", at + 1))
    ++n;
  return n;
}

// What the keeper handed to the server and reported.
struct Observed {
  std::vector<TlsMaterial> served;
  std::map<std::string, std::chrono::system_clock::time_point> ends;

  void Wire(TlsKeeper::Options& o) {
    o.serve_webhook = [this](const TlsMaterial& m) {
      served.push_back(m);
      return Status::Ok();
    };
    o.report = [this](const std::string& c, std::chrono::system_clock::time_point end) { ends[c] = end; };
  }
};

TEST_CASE("TLS Secrets ending within 30 days are renewed, the webhook serves the new certificate") {
  auto api = StartFake();
  auto client = ClientFor(*api);
  const std::vector<std::string> hook_names = webhook::ServiceDnsNames("op", "gpupool");
  // The webhook's: ends in 10 days, its CA (with key) has ten years: renewed from the same CA.
  auto hook = webhook::GenerateTls(hook_names, 24h * 10);
  REQUIRE(hook.ok());
  StoreSecret(*api, "hook-tls", *hook);
  // The servers': ends in 10 days, stored without the CA key (as operators before this one did): a new
  // CA, with the old one kept in ca.crt while it is valid.
  auto servers = webhook::GenerateTls({"gpupool-server"}, 24h * 10);
  REQUIRE(servers.ok());
  TlsMaterial legacy = *servers;
  legacy.ca_key_pem.clear();
  StoreSecret(*api, "server-tls", legacy);
  REQUIRE(api->Create("mutatingwebhookconfigurations", "", TestWebhookConfiguration()).ok());

  Observed seen;
  TlsKeeper::Options o;
  o.client = client.get();
  o.ns = "gpupool";
  o.server_secret = "server-tls";
  o.server_names = {"gpupool-server"};
  o.webhook = {"gpupool", "hook-tls", "op", "gpupool"};
  seen.Wire(o);
  TlsKeeper keeper(std::move(o), *hook, legacy);
  REQUIRE(keeper.CheckNow().ok());

  const auto now = std::chrono::system_clock::now();
  // Webhook: new certificate, same CA and key, served, caBundle untouched.
  CHECK(Data(*api, "hook-tls", "tls.crt") != hook->cert_pem);
  CHECK(Data(*api, "hook-tls", "ca.crt") == hook->ca_pem);
  CHECK(Data(*api, "hook-tls", "ca.key") == hook->ca_key_pem);
  REQUIRE(seen.served.size() == 1);
  CHECK(seen.served[0].cert_pem == Data(*api, "hook-tls", "tls.crt"));
  CHECK(seen.ends.at("webhook") - now > webhook::kServingValidity - 2h);
  auto config = api->Get("mutatingwebhookconfigurations", "", "gpupool");
  REQUIRE(config.ok());
  CHECK((*config)["webhooks"][0]["clientConfig"]["caBundle"] == kube::Base64(hook->ca_pem));

  // Servers: a new CA first in ca.crt, the old one after it, and the new CA's key stored.
  const std::string bundle = Data(*api, "server-tls", "ca.crt");
  CHECK(Certificates(bundle) == 2);
  CHECK(bundle.rfind(servers->ca_pem) == bundle.size() - servers->ca_pem.size());
  CHECK_FALSE(Data(*api, "server-tls", "ca.key").empty());
  CHECK(webhook::CheckKeyMatches(Data(*api, "server-tls", "tls.crt"), Data(*api, "server-tls", "tls.key"))
            .ok());
  CHECK(seen.ends.at("server") - now > webhook::kServingValidity - 2h);

  // Nothing is due any more: nothing is written or served again.
  auto before = api->Get("secrets", "gpupool", "hook-tls");
  REQUIRE(keeper.CheckNow().ok());
  CHECK(api->Get("secrets", "gpupool", "hook-tls")->at("metadata").at("resourceVersion") ==
        before->at("metadata").at("resourceVersion"));
  CHECK(seen.served.size() == 1);
}

TEST_CASE("a new CA for the webhook goes into the caBundle beside the old one") {
  auto api = StartFake();
  auto client = ClientFor(*api);
  const std::vector<std::string> names = webhook::ServiceDnsNames("op", "gpupool");
  auto hook = webhook::GenerateTls(names, 24h * 10);
  REQUIRE(hook.ok());
  TlsMaterial legacy = *hook;
  legacy.ca_key_pem.clear();
  StoreSecret(*api, "hook-tls", legacy);
  REQUIRE(
      api->Create(
             "mutatingwebhookconfigurations", "",
             {{"apiVersion", "admissionregistration.k8s.io/v1"},
              {"kind", "MutatingWebhookConfiguration"},
              {"metadata", {{"name", "gpupool"}}},
              {"webhooks",
               Json::array({{{"name", "pods.gpupool.io"},
                             {"admissionReviewVersions", {"v1"}},
                             {"sideEffects", "None"},
                             {"clientConfig", {{"service", {{"name", "op"}, {"namespace", "gpupool"}}}}}}})}})
          .ok());
  Observed seen;
  TlsKeeper::Options o;
  o.client = client.get();
  o.ns = "gpupool";
  o.webhook = {"gpupool", "hook-tls", "op", "gpupool"};
  seen.Wire(o);
  TlsKeeper keeper(std::move(o), *hook, {});
  REQUIRE(keeper.CheckNow().ok());
  auto config = api->Get("mutatingwebhookconfigurations", "", "gpupool");
  REQUIRE(config.ok());
  auto ca_bundle =
      kube::Base64Decode((*config)["webhooks"][0]["clientConfig"]["caBundle"].get<std::string>());
  REQUIRE(ca_bundle.ok());
  CHECK(Certificates(*ca_bundle) == 2);
  CHECK(*ca_bundle == Data(*api, "hook-tls", "ca.crt"));
  REQUIRE(seen.served.size() == 1);
}

TEST_CASE("a certificate renewed in --webhook-cert-dir is served, a half-written one is not") {
  TempDir dir;
  auto write = [&](const std::string& cert, const std::string& key) {
    std::ofstream(dir.File("tls.crt")) << cert;
    std::ofstream(dir.File("tls.key")) << key;
  };
  auto first = webhook::GenerateTls({"op.gpupool.svc"});
  auto renewed = webhook::GenerateTls({"op.gpupool.svc"});
  REQUIRE(first.ok());
  REQUIRE(renewed.ok());
  write(first->cert_pem, first->key_pem);
  Observed seen;
  TlsKeeper::Options o;
  o.webhook_cert_dir = dir.path();
  seen.Wire(o);
  TlsKeeper keeper(std::move(o), *first, {});
  CHECK(seen.ends.count("webhook") == 1);  // reported at start
  CHECK(seen.ends.count("server") == 0);
  seen.ends.clear();
  REQUIRE(keeper.CheckNow().ok());
  CHECK(seen.served.empty());
  CHECK(seen.ends.count("webhook") == 1);

  write(renewed->cert_pem, first->key_pem);  // caught between the two files
  CHECK_THAT(keeper.CheckNow().message(), Catch::Contains("does not belong to the certificate"));
  CHECK(seen.served.empty());
  write(renewed->cert_pem, renewed->key_pem);
  REQUIRE(keeper.CheckNow().ok());
  REQUIRE(seen.served.size() == 1);
  CHECK(seen.served[0].cert_pem == renewed->cert_pem);
}

TEST_CASE("the keeper's thread checks on its interval and stops at once") {
  TempDir dir;
  auto first = webhook::GenerateTls({"op.gpupool.svc"});
  auto renewed = webhook::GenerateTls({"op.gpupool.svc"});
  REQUIRE(first.ok());
  REQUIRE(renewed.ok());
  std::ofstream(dir.File("tls.crt")) << renewed->cert_pem;
  std::ofstream(dir.File("tls.key")) << renewed->key_pem;
  std::mutex mu;
  std::condition_variable cv;
  int served = 0;
  TlsKeeper::Options o;
  o.webhook_cert_dir = dir.path();
  o.serve_webhook = [&](const TlsMaterial&) {
    std::lock_guard lock(mu);
    ++served;
    cv.notify_all();
    return Status::Ok();
  };
  TlsKeeper keeper(std::move(o), *first, {});
  keeper.Start(10ms);
  std::unique_lock lock(mu);
  CHECK(cv.wait_for(lock, 15s, [&] { return served == 1; }));
  lock.unlock();
  keeper.Stop();
}

}  // namespace
}  // namespace gpupool::testing
