// gpupool-operator: binds pods to GPU shares, publishes GPUPool status, serves the admission webhook
// and metrics (docs/operator.md). Prints "webhook listening on", "metrics listening on" and
// "operator started" lines that tests wait for.
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "common/kube/config.h"
#include "common/kube/rest_client.h"
#include "common/log.h"
#include "operator/controllers/operator.h"
#include "operator/flags.h"
#include "operator/http/server.h"
#include "operator/webhook/bootstrap.h"
#include "operator/webhook/catalog.h"
#include "operator/webhook/handler.h"
#include "operator/webhook/tls_keeper.h"

namespace {

int Fail(const std::string& what, const gpupool::Status& s) {
  std::fprintf(stderr, "gpupool-operator: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gpupool;
  SetLogComponent("gpupool-operator");
  // SIGTERM/SIGINT are taken by sigwait below; blocked before any thread starts so none gets them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto flags = ParseOperatorFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags.ok()) {
    std::fprintf(stderr, "gpupool-operator: %s\n%s", flags.status().message().c_str(),
                 OperatorUsage().c_str());
    return 2;
  }
  if (flags->help) {
    std::printf("%s", OperatorUsage().c_str());
    return 0;
  }
  auto config = kube::ResolveConfig(flags->kubeconfig);
  if (!config.ok()) return Fail("Kubernetes configuration", config.status());
  const std::string ns = !Env("POD_NAMESPACE").empty() ? Env("POD_NAMESPACE")
                         : !config->namespace_.empty() ? config->namespace_
                                                       : "default";
  auto client = kube::RestClient::Create(*config);
  if (!client.ok()) return Fail("Kubernetes client", client.status());

  metrics::OperatorMetrics metrics;
  control::ControlAccess access;
  access.tls_ca_file = flags->server_tls_ca_file;
  access.tls_server_name = flags->server_tls_server_name;
  access.token_file = flags->server_token_file;
  auto control = controllers::NewGrpcControlClient({}, access);
  controllers::OperatorOptions options;
  options.leader_elect = flags->leader_elect;
  options.election.lease_namespace =
      flags->leader_election_namespace.empty() ? ns : flags->leader_election_namespace;
  options.election.lease_name = flags->leader_election_lease;
  options.election.identity = !Env("POD_NAME").empty() ? Env("POD_NAME") + "_" + std::to_string(getpid())
                                                       : leader::LeaderElector::DefaultIdentity();
  options.binder_workers = flags->binder_workers;
  options.pool.probe_interval = std::chrono::seconds(flags->probe_interval_s);
  options.pool.unhealthy_after = std::chrono::seconds(flags->server_unhealthy_after_s);
  controllers::Operator op(**client, *control, metrics, options);

  std::unique_ptr<http::HttpServer> metrics_server;
  if (!flags->metrics_listen.empty()) {
    http::ServerOptions mo;
    mo.listen = flags->metrics_listen;
    auto started = http::HttpServer::Start(mo, metrics.MakeHandler([&op] { return op.NotReady(); }));
    if (!started.ok()) return Fail("metrics server", started.status());
    metrics_server = std::move(*started);
    std::printf("metrics listening on port %d\n", metrics_server->port());
  }

  // What the TlsKeeper below keeps current; the first fetch is made here, at start.
  webhook::TlsKeeper::Options keep;
  keep.client = client->get();
  keep.ns = ns;
  // Every replica keeps the certificates, so their Events go through the unfenced client, not the
  // leader's recorder.
  controllers::EventRecorder tls_events(**client, options.election.identity);
  keep.event = [&tls_events](const kube::Json& secret, const std::string& reason,
                             const std::string& message) {
    // A CA replaced at once leaves clients without the new CA for a while.
    tls_events.Record(webhook::Secrets(), secret, reason == "CAReplaced" ? "Warning" : "Normal", reason,
                      message);
  };
  webhook::TlsMaterial server_kept;
  if (!flags->server_tls_secret.empty()) {
    // The GPU servers and their clients mount this Secret and wait for it to be filled.
    if (flags->server_tls_server_name.empty()) {
      return Fail("flags", Status::InvalidArgument("--server-tls-secret needs --server-tls-server-name"));
    }
    keep.server_secret = flags->server_tls_secret;
    keep.server_names = {flags->server_tls_server_name};
    auto server_tls = webhook::EnsureTlsSecret(**client, ns, keep.server_secret, keep.server_names,
                                               std::chrono::system_clock::now(), keep.event);
    if (!server_tls.ok()) return Fail("server TLS Secret", server_tls.status());
    server_kept = *server_tls;
  }
  webhook::GpuPoolCatalog catalog([&op] { return op.pools().List(); });
  std::unique_ptr<http::HttpServer> webhook_server;
  webhook::TlsMaterial webhook_served;
  if (!flags->webhook_listen.empty()) {
    Result<webhook::TlsMaterial> tls = Status::Internal("no TLS");
    if (!flags->webhook_cert_dir.empty()) {
      keep.webhook_cert_dir = flags->webhook_cert_dir;
      tls = webhook::LoadTlsDir(keep.webhook_cert_dir);
    } else if (!flags->webhook_tls_secret.empty()) {
      keep.webhook = {ns, flags->webhook_tls_secret, flags->webhook_service, flags->webhook_configuration};
      tls = webhook::EnsureWebhookTls(**client, keep.webhook, std::chrono::system_clock::now(), keep.event);
    } else {
      tls = webhook::GenerateTls(webhook::ServiceDnsNames(flags->webhook_service, ns));  // local runs
    }
    if (!tls.ok()) return Fail("webhook TLS", tls.status());
    http::ServerOptions wo;
    wo.listen = flags->webhook_listen;
    wo.tls = http::ServerTls{tls->cert_pem, tls->key_pem};
    auto started = http::HttpServer::Start(
        wo, webhook::MakeHandler(catalog, [&metrics](const std::string& r) { metrics.WebhookRequest(r); }));
    if (!started.ok()) return Fail("webhook server", started.status());
    webhook_server = std::move(*started);
    webhook_served = *tls;
    std::printf("webhook listening on port %d\n", webhook_server->port());
  }

  // Renews what the operator keeps and serves renewed certificates, from before they end until the
  // operator stops (before the webhook server goes: it hands certificates to it).
  keep.serve_webhook = [&webhook_server](const webhook::TlsMaterial& t) {
    return webhook_server->SetTls({t.cert_pem, t.key_pem});
  };
  keep.report = [&metrics](const std::string& certificate, std::chrono::system_clock::time_point end) {
    metrics.SetCertificateExpiry(certificate, end);
  };
  webhook::TlsKeeper keeper(std::move(keep), webhook_served, server_kept);
  keeper.Start(std::chrono::minutes(5));

  Status s = op.Start();
  if (!s.ok()) return Fail("starting", s);
  std::printf("operator started (identity %s)\n", options.election.identity.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::printf("signal %d: stopping\n", sig);
  op.Stop();  // releases the Lease so a standby takes over at once
  return 0;
}
