// HttpSession: one cpprestsdk http_client configured from a ClusterConfig (TLS material, bearer
// token, deadline), used by RestClient for requests and, one per stream, for watches.
//
// Thread-safety: Send() may be called concurrently. Calls block; never call them from a cpprestsdk
// (pplx) thread-pool thread.
#pragma once

#include <cpprest/http_client.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/kube/config.h"
#include "common/status.h"

namespace gpupool::kube {

struct HttpReply {
  int code = 0;
  std::string body;
  int retry_after_s = 0;  // from the Retry-After header; 0 when absent
};

class HttpSession {
 public:
  static Result<std::unique_ptr<HttpSession>> Create(const ClusterConfig& config,
                                                     std::chrono::milliseconds timeout,
                                                     const std::string& user_agent);

  // Builds the request (headers, bearer token) for `method` and `path_and_query`.
  Result<web::http::http_request> NewRequest(const web::http::method& method,
                                             const std::string& path_and_query, const std::string& body = "",
                                             const std::string& content_type = "");
  // Sends and reads the whole answer. Transport failures -> Unavailable, deadline -> DeadlineExceeded.
  Result<HttpReply> Send(web::http::http_request request);
  // Sends and returns once headers arrived (the body streams); for watches.
  Result<web::http::http_response> SendStreaming(web::http::http_request request,
                                                 pplx::cancellation_token token);

  const std::shared_ptr<TokenSource>& token() const { return token_; }

 private:
  HttpSession(web::http::client::http_client client, std::shared_ptr<TokenSource> token,
              std::string user_agent)
      : client_(std::move(client)), token_(std::move(token)), user_agent_(std::move(user_agent)) {}

  web::http::client::http_client client_;
  std::shared_ptr<TokenSource> token_;
  std::string user_agent_;
};

// Maps a cpprestsdk exception to a Status.
Status TransportError(const std::exception& e, const std::string& what);

}  // namespace gpupool::kube
