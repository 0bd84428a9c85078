// TlsKeeper: keeps the operator's certificates current while it runs. Every interval it
//  - renews the TLS Secrets the operator keeps (tls.mode=operator's webhook Secret, the GPU servers'
//    Secret) through EnsureTlsSecret, which renews what ends within kRenewBefore; every replica may
//    try, and the Secret's resourceVersion lets one win;
//  - writes the webhook's caBundle again when the CA changed (EnsureWebhookTls);
//  - hands a webhook certificate that changed, in the Secret or in --webhook-cert-dir (where
//    cert-manager renews it), to the webhook's server, which serves it from the next connection;
//  - reports when each certificate ends (gpupool_operator_certificate_expiry_timestamp_seconds).
// A failed check is logged and tried again at the next interval; the certificate served stays.
//
// Thread-safety: Start and Stop from one thread; CheckNow from any (checks run one at a time).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/client.h"
#include "common/status.h"
#include "operator/webhook/bootstrap.h"
#include "operator/webhook/tls.h"

namespace gpupool::webhook {

class TlsKeeper {
 public:
  struct Options {
    kube::Client* client = nullptr;  // needed when a Secret is kept
    std::string ns;                  // the operator's namespace
    std::string server_secret;       // --server-tls-secret ("" = none)
    std::vector<std::string> server_names;
    BootstrapConfig webhook;       // webhook.secret "" = the webhook's certificate is not in a Secret
    std::string webhook_cert_dir;  // --webhook-cert-dir ("" = none)
    std::function<Status(const TlsMaterial&)> serve_webhook;  // the webhook server's SetTls
    std::function<void(const std::string& certificate, std::chrono::system_clock::time_point not_after)>
        report;
    TlsEvent event;  // each change to a Secret it keeps (an Event on the Secret); may be null
    // The time certificates are checked against (tests move it); null: the system clock.
    std::function<std::chrono::system_clock::time_point()> now;
  };

  // What the operator started with: the webhook's certificate being served and the GPU servers' kept
  // one (either empty when there is none). Their ends are reported at once.
  TlsKeeper(Options options, const TlsMaterial& webhook_served, const TlsMaterial& server_kept);
  ~TlsKeeper();
  TlsKeeper(const TlsKeeper&) = delete;
  TlsKeeper& operator=(const TlsKeeper&) = delete;

  void Start(std::chrono::steady_clock::duration interval);
  void Stop();
  // One check now; the first error, if any.
  Status CheckNow();

 private:
  Status CheckWebhook(std::chrono::system_clock::time_point now);
  void Report(const std::string& certificate, const TlsMaterial& m) const;

  const Options options_;
  std::mutex check_mu_;
  std::string served_;  // guarded by check_mu_

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace gpupool::webhook
