#include "operator/webhook/tls_keeper.h"

#include "common/log.h"

namespace gpupool::webhook {

TlsKeeper::TlsKeeper(Options options, const TlsMaterial& webhook_served, const TlsMaterial& server_kept)
    : options_(std::move(options)), served_(webhook_served.cert_pem) {
  Report("webhook", webhook_served);
  Report("server", server_kept);
}

void TlsKeeper::Report(const std::string& certificate, const TlsMaterial& m) const {
  if (!options_.report || m.cert_pem.empty()) return;
  if (auto end = CertificateNotAfter(m.cert_pem); end.ok()) options_.report(certificate, *end);
}

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
  const auto now = options_.now ? options_.now() : std::chrono::system_clock::now();
  Status first;
  if (!options_.server_secret.empty()) {
    auto server = EnsureTlsSecret(*options_.client, options_.ns, options_.server_secret,
                                  options_.server_names, now, options_.event);
    if (server.ok()) {
      Report("server", *server);
    } else {
      first = server.status().Annotate("the GPU servers' TLS Secret");
    }
  }
  Status webhook = CheckWebhook(now);
  return first.ok() ? webhook : first;
}

Status TlsKeeper::CheckWebhook(std::chrono::system_clock::time_point now) {
  if (options_.webhook_cert_dir.empty() && options_.webhook.secret.empty()) return Status::Ok();
  Result<TlsMaterial> current =
      options_.webhook_cert_dir.empty()
          ? EnsureWebhookTls(*options_.client, options_.webhook, now, options_.event)
          : LoadTlsDir(options_.webhook_cert_dir);
  if (!current.ok()) return current.status().Annotate("the webhook's certificate");
  Report("webhook", *current);
  if (current->cert_pem == served_) return Status::Ok();
  GPUPOOL_RETURN_IF_ERROR(options_.serve_webhook(*current).Annotate("serving the webhook's new certificate"));
  served_ = current->cert_pem;
  GPUPOOL_LOG(kInfo) << "webhook: serving a renewed certificate from the next connection on";
  return Status::Ok();
}

}  // namespace gpupool::webhook
