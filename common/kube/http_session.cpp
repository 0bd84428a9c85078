#include "common/kube/http_session.h"

#include <boost/asio/ssl.hpp>
#include <system_error>

namespace gpupool::kube {

using web::http::client::http_client;
using web::http::client::http_client_config;

Status TransportError(const std::exception& e, const std::string& what) {
  if (const auto* he = dynamic_cast<const web::http::http_exception*>(&e)) {
    if (he->error_code() == std::errc::timed_out) {
      return Status::DeadlineExceeded(what + ": deadline exceeded: " + e.what());
    }
    if (he->error_code() == std::errc::operation_canceled) return Status::Cancelled(what + ": cancelled");
  }
  if (dynamic_cast<const pplx::task_canceled*>(&e) != nullptr) return Status::Cancelled(what + ": cancelled");
  return Status::Unavailable(what + ": " + e.what());
}

Result<std::unique_ptr<HttpSession>> HttpSession::Create(const ClusterConfig& config,
                                                         std::chrono::milliseconds timeout,
                                                         const std::string& user_agent) {
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("API server address \"" + config.server +
                                   "\" must start with https:// or http://");
  }
  if (!config.tls_server_name.empty()) {
    return Status::Unimplemented("tls-server-name is not supported by gpupool-operator's client");
  }
  http_client_config cc;
  cc.set_timeout(timeout);
  cc.set_validate_certificates(!config.insecure_skip_tls_verify);
  std::string ca = config.ca_pem, cert = config.client_cert_pem, key = config.client_key_pem;
  if (!ca.empty() || !cert.empty()) {
    // Checked once here so that bad PEM is a clear error, not a failure inside every handshake.
    try {
      boost::asio::ssl::context probe(boost::asio::ssl::context::tls_client);
      if (!ca.empty()) probe.add_certificate_authority(boost::asio::buffer(ca));
      if (!cert.empty()) {
        probe.use_certificate_chain(boost::asio::buffer(cert));
        probe.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
      }
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("unusable TLS material in the cluster config: ") + e.what());
    }
    cc.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
      if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca));
      if (!cert.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(cert));
        ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
      }
    });
  }
  try {
    http_client client(web::uri(config.server), cc);
    return std::unique_ptr<HttpSession>(new HttpSession(std::move(client), config.token, user_agent));
  } catch (const std::exception& e) {
    return Status::InvalidArgument("API server address \"" + config.server + "\": " + e.what());
  }
}

Result<web::http::http_request> HttpSession::NewRequest(const web::http::method& method,
                                                        const std::string& path_and_query,
                                                        const std::string& body,
                                                        const std::string& content_type) {
  web::http::http_request req(method);
  req.set_request_uri(path_and_query);
  req.headers().add("Accept", "application/json");
  req.headers().add("User-Agent", user_agent_);
  if (token_) {
    GPUPOOL_ASSIGN_OR_RETURN(std::string token, token_->Token());
    req.headers().add("Authorization", "Bearer " + token);
  }
  if (!content_type.empty()) req.set_body(body, content_type);
  return req;
}

Result<HttpReply> HttpSession::Send(web::http::http_request request) {
  std::string what = request.method() + " " + request.request_uri().path();
  try {
    web::http::http_response resp = client_.request(request).get();
    HttpReply r;
    r.code = resp.status_code();
    r.body = resp.extract_string(true).get();
    std::string retry;
    if (resp.headers().match("Retry-After", retry)) {
      try {
        r.retry_after_s = std::stoi(retry);
      } catch (...) {
        r.retry_after_s = 0;
      }
    }
    return r;
  } catch (const std::exception& e) {
    return TransportError(e, what);
  }
}

Result<web::http::http_response> HttpSession::SendStreaming(web::http::http_request request,
                                                            pplx::cancellation_token token) {
  std::string what = request.method() + " " + request.request_uri().path();
  try {
    return client_.request(request, token).get();
  } catch (const std::exception& e) {
    return TransportError(e, what);
  }
}

}  // namespace gpupool::kube
