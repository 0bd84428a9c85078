#include "operator/webhook/tls_keeper.h"

#include "common/log.h"

namespace gpupool::webhook {

TlsKeeper::TlsKeeper(Options options, const std::string& served)
    : options_(std::move(options)), served_(served) {}

TlsKeeper::~TlsKeeper() {
  Stop();
}

void TlsKeeper::Start(std::chrono::steady_clock::duration interval) {
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      const Status s = CheckNow();
      if (!s.ok()) {
        GPUPOOL_LOG(kWarn) << "certificates: " << s.message() << " (trying again later)";
      }
      lock.lock();
    }
  });
}

void TlsKeeper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status TlsKeeper::CheckNow() {
  std::lock_guard lock(check_mu_);
  Status first;
  if (!options_.server_secret.empty()) {
    auto server =
        EnsureTlsSecret(*options_.client, options_.ns, options_.server_secret, options_.server_names);
    if (server.ok()) {
      if (auto end = CertificateNotAfter(server->cert_pem); end.ok() && options_.report)
        options_.report("server", *end);
    } else {
      first = server.status().Annotate("the GPU servers' TLS Secret");
    }
  }
  Status webhook = CheckWebhook();
  return first.ok() ? webhook : first;
}

Status TlsKeeper::CheckWebhook() {
  Result<TlsMaterial> current = Status::NotFound("no webhook certificate is kept");
  if (!options_.webhook_cert_dir.empty()) {
    current = LoadTlsDir(options_.webhook_cert_dir);
  } else if (!options_.webhook.secret.empty()) {
    current = EnsureWebhookTls(*options_.client, options_.webhook);
  } else {
    return Status::Ok();
  }
  if (!current.ok()) return current.status().Annotate("the webhook's certificate");
  auto end = CertificateNotAfter(current->cert_pem);
  if (end.ok() && options_.report) options_.report("webhook", *end);
  if (current->cert_pem == served_) return Status::Ok();
  GPUPOOL_RETURN_IF_ERROR(options_.serve_webhook(*current).Annotate("serving the webhook's new certificate"));
  served_ = current->cert_pem;
  GPUPOOL_LOG(kInfo) << "webhook: serving a renewed certificate from the next connection on";
  return Status::Ok();
}

}  // namespace gpupool::webhook
