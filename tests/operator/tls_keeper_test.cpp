// Certificates kept current while the operator runs: the TLS Secrets it keeps are renewed before they
// end (from the same CA when it can; a new CA is published an hour before it signs), the webhook's
// caBundle follows a new CA, a renewed webhook certificate (in the Secret or in a cert-manager
// directory) reaches the server, and each change is reported for an Event.
#include "operator/webhook/tls_keeper.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>

#include "common/kube/base64.h"
#include "common/units.h"
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

// Whether the first certificate of `cert_pem` carries a signature of the first of `ca_pem`.
bool SignedBy(const std::string& cert_pem, const std::string& ca_pem) {
  auto read = [](const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                  BIO_free);
    return std::unique_ptr<X509, decltype(&X509_free)>(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  };
  auto cert = read(cert_pem), ca = read(ca_pem);
  return cert && ca && X509_verify(cert.get(), X509_get0_pubkey(ca.get())) == 1;
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
  std::vector<std::string> events;  // "<secret> <reason>", in order

  webhook::TlsEvent Recorder() {
    return [this](const Json& secret, const std::string& reason, const std::string& message) {
      CHECK_FALSE(message.empty());
      CHECK_FALSE(secret.at("metadata").value("uid", std::string()).empty());  // the Secret as written
      events.push_back(secret.at("metadata").at("name").get<std::string>() + " " + reason);
    };
  }
  // A keeper of the webhook's Secret "hook-tls" (service op in gpupool) at `clock`, reporting here.
  TlsKeeper::Options KeeperOptions(kube::Client* client, const std::chrono::system_clock::time_point& clock) {
    TlsKeeper::Options o;
    o.now = [&clock] { return clock; };
    o.client = client;
    o.ns = "gpupool";
    o.webhook = {"gpupool", "hook-tls", "op", "gpupool"};
    Wire(o);
    return o;
  }
  void Wire(TlsKeeper::Options& o) {
    o.event = Recorder();
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
  auto clock = std::chrono::system_clock::now();
  TlsKeeper::Options o = seen.KeeperOptions(client.get(), clock);
  o.server_secret = "server-tls";
  o.server_names = {"gpupool-server"};
  TlsKeeper keeper(std::move(o), *hook, legacy);
  REQUIRE(keeper.CheckNow().ok());

  const auto now = clock;
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

  // Servers: stored without the CA key, so a new CA is due. It is published first, after the CA that
  // signs, and the certificate stays until the new CA has been in ca.crt for kCaPublishLead.
  std::string bundle = Data(*api, "server-tls", "ca.crt");
  CHECK(Certificates(bundle) == 2);
  CHECK(bundle.find(servers->ca_pem) == 0);
  const std::string next_ca = Data(*api, "server-tls", "next-ca.crt");
  CHECK(bundle == servers->ca_pem + next_ca);
  CHECK(Data(*api, "server-tls", "tls.crt") == servers->cert_pem);
  CHECK(Data(*api, "server-tls", "ca.key").empty());
  auto annotations = api->Get("secrets", "gpupool", "server-tls")->at("metadata").at("annotations");
  CHECK(annotations.at("gpupool.io/next-ca-published") == FormatRfc3339(clock));
  CHECK(seen.events == std::vector<std::string>{"server-tls NewCAPublished", "hook-tls CertificateRenewed"});

  // Not yet: nothing changes.
  clock += webhook::kCaPublishLead - 1min;
  auto waiting = api->Get("secrets", "gpupool", "server-tls");
  REQUIRE(keeper.CheckNow().ok());
  CHECK(api->Get("secrets", "gpupool", "server-tls")->at("metadata").at("resourceVersion") ==
        waiting->at("metadata").at("resourceVersion"));

  // Then the new CA signs a new certificate; the old CA stays in ca.crt, after it, while it is valid.
  clock += 2min;
  REQUIRE(keeper.CheckNow().ok());
  bundle = Data(*api, "server-tls", "ca.crt");
  CHECK(bundle == next_ca + servers->ca_pem);
  const std::string renewed = Data(*api, "server-tls", "tls.crt");
  CHECK(SignedBy(renewed, next_ca));
  CHECK_FALSE(SignedBy(renewed, servers->ca_pem));
  CHECK(webhook::CheckKeyMatches(next_ca, Data(*api, "server-tls", "ca.key")).ok());
  CHECK(webhook::CheckKeyMatches(renewed, Data(*api, "server-tls", "tls.key")).ok());
  CHECK(Data(*api, "server-tls", "next-ca.crt").empty());
  CHECK(Data(*api, "server-tls", "next-ca.key").empty());
  CHECK_FALSE(api->Get("secrets", "gpupool", "server-tls")->at("metadata").contains("annotations"));
  CHECK(seen.ends.at("server") - clock > webhook::kServingValidity - 2h);
  CHECK(seen.events.back() == "server-tls NewCASigning");
  const std::size_t events = seen.events.size();

  // Nothing is due any more: nothing is written or served again.
  auto before = api->Get("secrets", "gpupool", "hook-tls");
  REQUIRE(keeper.CheckNow().ok());
  CHECK(api->Get("secrets", "gpupool", "hook-tls")->at("metadata").at("resourceVersion") ==
        before->at("metadata").at("resourceVersion"));
  CHECK(seen.events.size() == events);
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
  REQUIRE(api->Create("mutatingwebhookconfigurations", "", TestWebhookConfiguration()).ok());
  Observed seen;
  auto clock = std::chrono::system_clock::now();
  TlsKeeper keeper(seen.KeeperOptions(client.get(), clock), *hook, {});
  auto ca_bundle = [&] {
    auto config = api->Get("mutatingwebhookconfigurations", "", "gpupool");
    REQUIRE(config.ok());
    auto decoded =
        kube::Base64Decode((*config)["webhooks"][0]["clientConfig"]["caBundle"].get<std::string>());
    REQUIRE(decoded.ok());
    return *decoded;
  };

  // Published: the API server trusts both CAs; the certificate served is still the old CA's.
  REQUIRE(keeper.CheckNow().ok());
  const std::string next_ca = Data(*api, "hook-tls", "next-ca.crt");
  CHECK(ca_bundle() == hook->ca_pem + next_ca);
  CHECK(ca_bundle() == Data(*api, "hook-tls", "ca.crt"));
  CHECK(seen.served.empty());

  // kCaPublishLead later the new CA signs, and the new certificate is served.
  clock += webhook::kCaPublishLead;
  REQUIRE(keeper.CheckNow().ok());
  CHECK(Certificates(ca_bundle()) == 2);
  CHECK(ca_bundle() == next_ca + hook->ca_pem);
  REQUIRE(seen.served.size() == 1);
  CHECK(SignedBy(seen.served[0].cert_pem, next_ca));
}

TEST_CASE("a CA with under 60 days left is published anew and signs an hour later") {
  auto api = StartFake();
  auto client = ClientFor(*api);
  const std::vector<std::string> names = {"gpupool-server"};
  auto long_lived = webhook::GenerateTls(names, webhook::kCaValidity);  // ends with its CA
  REQUIRE(long_lived.ok());
  StoreSecret(*api, "server-tls", *long_lived);
  auto ca_end = webhook::CertificateNotAfter(long_lived->ca_pem);
  REQUIRE(ca_end.ok());
  const auto late = *ca_end - 24h * 50;  // 50 days left for both: the certificate is not due, the CA is

  Observed seen;
  auto published = webhook::EnsureTlsSecret(*client, "gpupool", "server-tls", names, late, seen.Recorder());
  REQUIRE(published.ok());
  const std::string next_ca = Data(*api, "server-tls", "next-ca.crt");
  CHECK(published->cert_pem == long_lived->cert_pem);
  CHECK(published->ca_pem == long_lived->ca_pem + next_ca);
  CHECK(Data(*api, "server-tls", "ca.key") == long_lived->ca_key_pem);  // still the signer

  auto switched =
      webhook::EnsureTlsSecret(*client, "gpupool", "server-tls", names, late + 1h, seen.Recorder());
  INFO(switched.status().message());
  REQUIRE(switched.ok());
  CHECK(SignedBy(switched->cert_pem, next_ca));
  CHECK(switched->ca_pem == next_ca + long_lived->ca_pem);
  // When the old CA has ended it leaves the bundle at the next renewal.
  auto renewed = webhook::EnsureTlsSecret(*client, "gpupool", "server-tls", names,
                                          late + webhook::kServingValidity - 24h * 10, seen.Recorder());
  REQUIRE(renewed.ok());
  CHECK(renewed->ca_pem == next_ca);
  CHECK(SignedBy(renewed->cert_pem, next_ca));
  CHECK(seen.events == std::vector<std::string>{"server-tls NewCAPublished", "server-tls NewCASigning",
                                                "server-tls CertificateRenewed"});
}

TEST_CASE("a certificate that can no longer be served is replaced at once, by a new CA where needed") {
  auto api = StartFake();
  auto client = ClientFor(*api);
  const std::vector<std::string> names = {"gpupool-server"};
  // Ended an hour ago (a cluster that was off for a year), its CA key never stored.
  auto ended = webhook::GenerateTls(names, 2h);
  REQUIRE(ended.ok());
  TlsMaterial legacy = *ended;
  legacy.ca_key_pem.clear();
  StoreSecret(*api, "server-tls", legacy);
  Observed seen;
  auto stored = webhook::EnsureTlsSecret(*client, "gpupool", "server-tls", names,
                                         std::chrono::system_clock::now() + 3h, seen.Recorder());
  REQUIRE(stored.ok());
  CHECK(Data(*api, "server-tls", "tls.crt") != ended->cert_pem);
  CHECK_FALSE(SignedBy(stored->cert_pem, ended->ca_pem));
  CHECK(SignedBy(stored->cert_pem, stored->ca_pem));
  CHECK(Data(*api, "server-tls", "next-ca.crt").empty());
  CHECK(stored->ca_pem.rfind(ended->ca_pem) == stored->ca_pem.size() - ended->ca_pem.size());  // still valid
  CHECK(Data(*api, "server-tls", "ca.crt") == stored->ca_pem);

  // Same CA, key stored, but the certificate names another service: reissued at once, same CA.
  auto other = webhook::GenerateTls({"old-name"});
  REQUIRE(other.ok());
  StoreSecret(*api, "renamed-tls", *other);
  auto renamed = webhook::EnsureTlsSecret(*client, "gpupool", "renamed-tls", names,
                                          std::chrono::system_clock::now(), seen.Recorder());
  REQUIRE(renamed.ok());
  CHECK(renamed->ca_pem == other->ca_pem);
  CHECK(SignedBy(renamed->cert_pem, other->ca_pem));
  CHECK(seen.events == std::vector<std::string>{"server-tls CAReplaced", "renamed-tls CertificateRenewed"});
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
