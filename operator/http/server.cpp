#include "operator/http/server.h"

#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/endpoint.h"

namespace gpupool::http {
namespace {

namespace listener = web::http::experimental::listener;

// cpprestsdk cannot report the port it bound, so port 0 is resolved here: the kernel picks a free
// port, we release it and the listener takes it (a race only other processes binding ports can lose).
Result<int> FreePort(const std::string& host) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::Unavailable("http: socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, host == "0.0.0.0" || host.empty() ? "0.0.0.0" : host.c_str(), &addr.sin_addr) !=
      1) {
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
  }
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  if (port <= 0) return Status::Unavailable("http: no free port on " + host);
  return port;
}

}  // namespace

class HttpServer::Impl {
 public:
  std::unique_ptr<listener::http_listener> listener;
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options, Handler handler) {
  GPUPOOL_ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint(options.listen, /*allow_port_zero=*/true));
  if (ep.kind != Endpoint::Kind::kTcp)
    return Status::InvalidArgument("http: " + options.listen + " is not HOST:PORT");
  int port = ep.port;
  if (port == 0) {
    GPUPOOL_ASSIGN_OR_RETURN(port, FreePort(ep.host));
  }
  const std::string host = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
  const std::string uri =
      std::string(options.tls ? "https://" : "http://") + host + ":" + std::to_string(port) + "/";

  listener::http_listener_config config;
  if (options.tls) {
    ServerTls tls = *options.tls;
    config.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
      ctx.set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                      boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
                      boost::asio::ssl::context::no_tlsv1_1);
      ctx.use_certificate_chain(boost::asio::buffer(tls.cert_pem));
      ctx.use_private_key(boost::asio::buffer(tls.key_pem), boost::asio::ssl::context::pem);
    });
  }
  auto server = std::unique_ptr<HttpServer>(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  server->port_ = port;
  try {
    server->impl_->listener = std::make_unique<listener::http_listener>(uri, config);
    const std::size_t max_body = options.max_body;
    server->impl_->listener->support([handler, max_body](web::http::http_request req) {
      Response resp;
      try {
        Request r;
        r.method = req.method();
        r.path = web::uri::decode(req.relative_uri().path());
        const auto length = req.headers().content_length();
        if (length > max_body) {
          resp = Response{413, "text/plain; charset=utf-8",
                          "request body larger than " + std::to_string(max_body)};
        } else {
          const std::vector<unsigned char> bytes = req.extract_vector().get();
          r.body.assign(bytes.begin(), bytes.end());
          resp = r.body.size() > max_body
                     ? Response{413, "text/plain; charset=utf-8", "request body too large"}
                     : handler(r);
        }
      } catch (const std::exception& e) {
        resp = Response{400, "text/plain; charset=utf-8", std::string("bad request: ") + e.what()};
      }
      web::http::http_response out(static_cast<web::http::status_code>(resp.code));
      out.set_body(resp.body, resp.content_type);
      req.reply(out).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (const std::exception&) {
          // The peer went away before the answer; nothing to do.
        }
      });
    });
    server->impl_->listener->open().wait();
  } catch (const std::exception& e) {
    return Status::Unavailable("http: cannot listen on " + uri + ": " + e.what());
  }
  return server;
}

void HttpServer::Stop() {
  if (impl_ && impl_->listener) {
    try {
      impl_->listener->close().wait();
    } catch (const std::exception&) {
      // Closing a listener whose sockets already failed: it is closed either way.
    }
    impl_->listener.reset();
  }
}

HttpServer::~HttpServer() {
  Stop();
}

}  // namespace gpupool::http
