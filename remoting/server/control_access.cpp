#include "remoting/server/control_access.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>

#include "common/log.h"
#include "common/token_file.h"

namespace gpupool::server {
namespace {

// How often the certificate files are checked for a renewal (cert-manager renews well ahead).
constexpr unsigned kCertificateRefreshSeconds = 60;
// How long a Control call waits for the TokenReview of its caller's token (then it is refused).
constexpr std::chrono::seconds kReviewDeadline{5};

std::string BearerToken(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  const std::string value(it->second.data(), it->second.size());
  const std::string prefix = "Bearer ";
  return value.rfind(prefix, 0) == 0 ? value.substr(prefix.size()) : "";
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ControlServerCredentials(const ServerOptions& options) {
  if (!options.tls_enabled()) return grpc::InsecureServerCredentials();
  const protocol::TlsServerFiles& files = options.tls;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.client_ca_file, kCertificateRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (files.client_ca_file.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    // A certificate is optional (token callers have none) but, when one is sent, must verify.
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

grpc::Status AuthorizeControlCall(const grpc::ServerContext& context, const ServerOptions& options,
                                  PodTokenReview* reviews) {
  if (!options.authenticates_clients()) return grpc::Status::OK;
  if (!options.tls.client_ca_file.empty()) {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) return grpc::Status::OK;
  }
  const std::string presented = BearerToken(context);
  if (!presented.empty() && reviews != nullptr && !options.control_service_accounts.empty()) {
    Result<PodIdentity> who = reviews->Check(presented, std::chrono::steady_clock::now() + kReviewDeadline);
    if (who.ok()) {
      const std::string account = who->pod_namespace + ":" + who->service_account;
      const auto& allowed = options.control_service_accounts;
      if (std::find(allowed.begin(), allowed.end(), account) != allowed.end()) return grpc::Status::OK;
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "service account " + account + " may not use the Control API");
    }
    if (options.token_file.empty()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token refused: " + who.status().message());
    }
  }
  if (!options.token_file.empty()) {
    if (!presented.empty()) {
      Result<std::string> expected = ReadTokenFile(options.token_file);
      if (!expected.ok()) {
        GPUPOOL_LOG(kError) << "Control API: " << expected.status().message();
        return grpc::Status(grpc::StatusCode::INTERNAL, "the server cannot read its token file");
      }
      if (SameToken(presented, *expected)) return grpc::Status::OK;
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong token");
    }
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "the Control API needs the server's token or an allowed service account's token "
                      "(authorization: Bearer), or a client certificate");
}

}  // namespace gpupool::server
