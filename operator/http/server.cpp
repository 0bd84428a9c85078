#include "operator/http/server.h"

#include <cpprest/uri.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/endpoint.h"

namespace gpupool::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Covers an idle keep-alive connection and a request that trickles in alike.
constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr std::size_t kHeaderLimit = 16 << 10;
constexpr std::size_t kMaxConnections = 256;
constexpr const char* kText = "text/plain; charset=utf-8";

struct Shared {
  Handler handler;
  std::size_t max_body = 0;
  std::atomic<std::size_t> connections{0};
  // Set by Stop() before the io_context stops: from then on a stream's writer posts nothing to it.
  std::mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu
};

using Parser = bhttp::request_parser<bhttp::string_body>;

Response Serve(const Handler& handler, Parser::value_type& req) {
  Request r;
  r.method = std::string(req.method_string());
  std::string target(req.target());
  target.resize(std::min(target.size(), target.find('#')));
  if (const std::size_t q = target.find('?'); q != std::string::npos) {
    r.query = target.substr(q + 1);
    target.resize(q);
  }
  try {
    r.path = web::uri::decode(target);
  } catch (const std::exception& e) {
    return {400, kText, std::string("bad request: ") + e.what()};
  }
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string& value = r.headers[name];
    value += value.empty() ? std::string(field.value()) : ", " + std::string(field.value());
  }
  r.body = std::move(req.body());
  try {
    return handler(r);
  } catch (const std::exception& e) {
    return {500, kText, std::string("internal error: ") + e.what()};
  }
}

// One connection: reads requests one after another (keep-alive), answers each with the handler's
// response. Every step runs on the connection's strand, so nothing here needs a lock; the session
// lives as long as an operation of it is pending, and HttpServer::Stop() ends them all at once.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  // `tls` is the context `stream` was made from (null for plain HTTP), kept while the stream lives.
  Session(Stream stream, std::shared_ptr<Shared> shared, std::shared_ptr<asio::ssl::context> tls)
      : tls_(std::move(tls)), stream_(std::move(stream)), shared_(std::move(shared)) {
    shared_->connections.fetch_add(1);
  }
  ~Session() {
    if (body_) body_->Abandon();
    shared_->connections.fetch_sub(1);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->Read();
                              });
    } else {
      Read();
    }
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(shared_->max_body);
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code read) {
    if (read) return OnReadError(read);
    // curl and others wait for this before they send a body.
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      continue_.emplace(bhttp::status::continue_, parser_->get().version());
      bhttp::async_write(stream_, *continue_,
                         [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                           if (!ec) self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->OnReadError(ec);
                        auto& req = self->parser_->get();
                        const bool keep_alive = req.keep_alive();
                        const unsigned version = req.version();
                        self->Reply(Serve(self->shared_->handler, req), keep_alive, version);
                      });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) return Close();
    if (ec == bhttp::error::body_limit) {
      return Reply({413, kText, "request body larger than " + std::to_string(shared_->max_body) + " bytes"},
                   false, 11);
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return Reply({400, kText, "bad request: " + ec.message()}, false, 11);
    }
    // A timeout, a reset or a TLS failure: nobody to answer.
  }

  void Reply(const Response& answer, bool keep_alive, unsigned version) {
    if (answer.stream) return ReplyStreamed(answer, keep_alive, version);
    response_.emplace();
    response_->version(version);
    response_->result(static_cast<unsigned>(answer.code));
    response_->set(bhttp::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers) response_->set(name, value);
    response_->body() = answer.body;
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    bhttp::async_write(stream_, *response_,
                       [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                         if (ec) return;
                         if (keep_alive) return self->Read();
                         self->Close();
                       });
  }

  // A body that is still being produced: the header now, then whatever the producer has written each
  // time it wakes the connection. HTTP/1.1 gets chunks; an HTTP/1.0 client reads until we close.
  void ReplyStreamed(const Response& answer, bool keep_alive, unsigned version) {
    body_ = answer.stream;
    serializer_.reset();  // it refers to the response it serialized, replaced next
    stream_keep_alive_ = keep_alive && version >= 11;
    streamed_.emplace();
    streamed_->version(version);
    streamed_->result(static_cast<unsigned>(answer.code));
    streamed_->set(bhttp::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers) streamed_->set(name, value);
    streamed_->keep_alive(stream_keep_alive_);
    if (version >= 11) streamed_->chunked(true);
    streamed_->body().data = nullptr;
    streamed_->body().more = true;
    serializer_.emplace(*streamed_);
    beast::get_lowest_layer(stream_).expires_never();  // a watch may stay quiet for minutes
    bhttp::async_write_header(stream_, *serializer_,
                              [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                                if (ec) return self->body_->Abandon();
                                self->body_->Attach(self->Waker());
                                self->Pump();
                              });
  }

  // Runs on the producer's thread: has the connection's strand end the wait in Pump. It holds nothing
  // of the io_context, since the producer may keep it after the server is gone; while the server runs
  // (stop_mu held, not stopped) the io_context and so the connection's strand are alive.
  std::function<void()> Waker() {
    return [shared = shared_, weak = this->weak_from_this()] {
      std::lock_guard lock(shared->stop_mu);
      if (shared->stopped) return;
      if (auto self = weak.lock()) {
        asio::post(beast::get_lowest_layer(self->stream_).get_executor(), [self] { self->wakeup_.cancel(); });
      }
    };
  }

  // Sends what the producer has written, or waits until it writes. The wait is a pending timer, so
  // that the connection lives while it waits and goes with the io_context when the server stops.
  void Pump() {
    if (writing_ || !body_) return;
    BodyStream::Taken taken = body_->Take();
    if (taken.data.empty() && !taken.end) {
      wakeup_.expires_at(asio::steady_timer::time_point::max());
      wakeup_.async_wait([self = this->shared_from_this()](beast::error_code) { self->Pump(); });
      return;
    }
    sending_ = std::move(taken.data);
    streamed_->body().data = sending_.empty() ? nullptr : sending_.data();
    streamed_->body().size = sending_.size();
    streamed_->body().more = !taken.end;
    writing_ = true;
    bhttp::async_write(stream_, *serializer_,
                       [self = this->shared_from_this(), end = taken.end](beast::error_code ec, std::size_t) {
                         self->writing_ = false;
                         if (ec && ec != bhttp::error::need_buffer) return self->body_->Abandon();
                         if (!end) return self->Pump();
                         self->body_->Abandon();  // drops the waker: the producer may keep the stream
                         self->body_.reset();
                         if (self->stream_keep_alive_) return self->Read();
                         self->Close();
                       });
  }

  void Close() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  std::shared_ptr<asio::ssl::context> tls_;
  Stream stream_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  // A streamed response (ReplyStreamed): what the connection sends while the producer writes.
  std::shared_ptr<BodyStream> body_;
  std::optional<bhttp::response<bhttp::buffer_body>> streamed_;
  std::optional<bhttp::response_serializer<bhttp::buffer_body>> serializer_;
  asio::steady_timer wakeup_{beast::get_lowest_layer(stream_).get_executor()};
  std::string sending_;
  bool writing_ = false;
  bool stream_keep_alive_ = false;
};

Result<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const ServerTls& tls) {
  try {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    ctx->use_certificate_chain(asio::buffer(tls.cert_pem));
    ctx->use_private_key(asio::buffer(tls.key_pem), asio::ssl::context::pem);
    return ctx;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("http: the TLS certificate or key is unusable: ") + e.what());
  }
}

}  // namespace

// Every pending operation, and with it every session, goes with the io_context; each session keeps
// the TLS context its stream was made from.
class HttpServer::Impl {
 public:
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::vector<std::thread> threads;
  std::mutex tls_mu;
  std::shared_ptr<asio::ssl::context> tls;  // for new connections; null for HTTP; guarded by tls_mu

  std::shared_ptr<asio::ssl::context> Tls() {
    std::lock_guard lock(tls_mu);
    return tls;
  }

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors, most likely: accepting again at once would spin.
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      Launch(std::move(socket));
      Accept();
    });
  }

  void Launch(tcp::socket socket) {
    if (shared->connections.load() >= kMaxConnections) return;  // closes the socket
    if (std::shared_ptr<asio::ssl::context> ctx = Tls()) {
      beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *ctx);
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(stream), shared,
                                                                      std::move(ctx))
          ->Start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), shared, nullptr)
          ->Start();
    }
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options, Handler handler) {
  GPUPOOL_ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint(options.listen, /*allow_port_zero=*/true));
  if (ep.kind != Endpoint::Kind::kTcp)
    return Status::InvalidArgument("http: " + options.listen + " is not HOST:PORT");
  auto impl = std::make_unique<Impl>();
  impl->shared->handler = std::move(handler);
  impl->shared->max_body = options.max_body;
  if (options.tls) {
    GPUPOOL_ASSIGN_OR_RETURN(impl->tls, MakeTlsContext(*options.tls));
  }

  beast::error_code ec;
  tcp::resolver resolver(impl->io);
  const auto found = resolver.resolve(ep.host, std::to_string(ep.port),
                                      tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty())
    return Status::InvalidArgument("http: cannot resolve " + options.listen + ": " + ec.message());
  const tcp::endpoint where = found.begin()->endpoint();
  auto fail = [&](const char* step) {
    return Status::Unavailable("http: cannot listen on " + options.listen + " (" + step +
                               "): " + ec.message());
  };
  if (impl->acceptor.open(where.protocol(), ec)) return fail("socket");
  // Lets a restarted operator take its port while old connections linger in TIME_WAIT; a port
  // another process listens on is still refused.
  if (impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec)) return fail("SO_REUSEADDR");
  if (impl->acceptor.bind(where, ec)) return fail("bind");
  if (impl->acceptor.listen(asio::socket_base::max_listen_connections, ec)) return fail("listen");

  auto server = std::unique_ptr<HttpServer>(new HttpServer());
  server->port_ = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl->threads.emplace_back([io = &impl->io] {
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "http: %s\n", e.what());
        }
      }
    });
  }
  server->impl_ = std::move(impl);
  return server;
}

Status HttpServer::SetTls(const ServerTls& tls) {
  if (!impl_ || !impl_->Tls()) return Status::FailedPrecondition("http: this server does not serve HTTPS");
  GPUPOOL_ASSIGN_OR_RETURN(std::shared_ptr<asio::ssl::context> ctx, MakeTlsContext(tls));
  std::lock_guard lock(impl_->tls_mu);
  impl_->tls = std::move(ctx);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!impl_) return;
  // Stopping the io_context first means no handler runs while the sockets close: they close when the
  // io_context destroys the operations that hold them, on this thread.
  {
    std::lock_guard lock(impl_->shared->stop_mu);
    impl_->shared->stopped = true;
  }
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_.reset();
}

HttpServer::~HttpServer() {
  Stop();
}

}  // namespace gpupool::http
