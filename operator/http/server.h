// HttpServer: a small HTTP(S) server on Boost.Beast for the operator's endpoints (admission webhook
// over HTTPS, /metrics /healthz /readyz over HTTP) and the tests' fake API servers. Handlers are plain
// functions of a request to a response, so the code behind them is tested without sockets; Beast stays
// inside server.cpp.
//
// Thread-safety: handlers run on the server's threads, concurrently; they must be thread-safe.
// Stop() (or the destructor) closes the listening socket and every connection at once and returns
// when no handler runs any more; a request being served then gets no answer.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/status.h"
#include "operator/http/body_stream.h"

namespace gpupool::http {

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // percent-decoded, without the query
  std::string query;                           // as sent, after the '?'
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct Response {
  Response() = default;
  Response(int code_, std::string content_type_, std::string body_)
      : code(code_), content_type(std::move(content_type_)), body(std::move(body_)) {}

  int code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::map<std::string, std::string> headers;  // more header fields ("Retry-After", ...)
  std::shared_ptr<BodyStream> stream;          // when set, the body: `body` is not sent
};

using Handler = std::function<Response(const Request&)>;

struct ServerTls {
  std::string cert_pem;  // serving certificate (chain)
  std::string key_pem;
};

struct ServerOptions {
  std::string listen;              // "0.0.0.0:9443"; port 0 picks a free port
  std::optional<ServerTls> tls;    // HTTPS when set
  std::size_t max_body = 3 << 20;  // larger bodies get 413 (the API server sends at most 3 MiB)
  int threads = 2;                 // more where handlers block (a fake API server's delays)
};

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Start(const ServerOptions& options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // Serves connections accepted from now on with this certificate (a renewed one); connections
  // already open keep theirs. FailedPrecondition for a server started without TLS, InvalidArgument
  // for an unusable certificate or key (the current one stays).
  Status SetTls(const ServerTls& tls);
  void Stop();

  class Impl;

 private:
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace gpupool::http
