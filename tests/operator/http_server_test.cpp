// The operator's HTTP(S) server on the wire: raw requests from a Beast client, and stopping while
// clients hold connections in every state (the webhook's server must never crash on shutdown).
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "operator/http/server.h"
#include "operator/webhook/tls.h"

namespace gpupool::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Answer = bhttp::response<bhttp::string_body>;

// Fails a broken server's test instead of hanging it.
constexpr auto kClientTimeout = std::chrono::seconds(20);

// A client connection that writes raw bytes and reads responses; every operation runs on its own
// io_context under a timeout. Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
class Conn {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  explicit Conn(int port, const std::string& ca_pem = "") {
    if constexpr (kTls) {
      tls_.emplace(asio::ssl::context::tls_client);
      tls_->add_certificate_authority(asio::buffer(ca_pem));
      tls_->set_verify_mode(asio::ssl::verify_peer);
      stream_.emplace(io_, *tls_);
    } else {
      stream_.emplace(io_);
    }
    beast::get_lowest_layer(*stream_).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  }

  beast::error_code Handshake() {
    beast::error_code out;
    if constexpr (kTls) {
      Arm();
      stream_->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec) { out = ec; });
      Run();
    }
    return out;
  }

  beast::error_code Send(const std::string& bytes) {
    beast::error_code out;
    Arm();
    asio::async_write(*stream_, asio::buffer(bytes), [&](beast::error_code ec, std::size_t) { out = ec; });
    Run();
    return out;
  }

  // One response; an error when the server closed the connection or never answered.
  beast::error_code Receive(Answer& answer) {
    beast::error_code out;
    answer = {};
    Arm();
    bhttp::async_read(*stream_, buffer_, answer, [&](beast::error_code ec, std::size_t) { out = ec; });
    Run();
    return out;
  }

  // Raw bytes up to and including `needle` (or, with an empty needle, up to the server's close), for
  // a streamed body read while it is being written.
  std::string ReadUntil(const std::string& needle) {
    beast::error_code out;
    Arm();
    std::size_t n = 0;
    if (needle.empty()) {
      asio::async_read(*stream_, asio::dynamic_buffer(raw_), [&](beast::error_code ec, std::size_t got) {
        out = ec == asio::error::eof ? beast::error_code() : ec;
        n = got;
      });
    } else {
      asio::async_read_until(*stream_, asio::dynamic_buffer(raw_), needle,
                             [&](beast::error_code ec, std::size_t got) {
                               out = ec;
                               n = got;
                             });
    }
    Run();
    if (out) throw std::runtime_error("read: " + out.message());
    if (needle.empty()) n = raw_.size();
    std::string head = raw_.substr(0, n);
    raw_.erase(0, n);
    return head;
  }

  Answer Exchange(const std::string& request) {
    if (auto ec = Send(request)) throw std::runtime_error("send: " + ec.message());
    Answer answer;
    if (auto ec = Receive(answer)) throw std::runtime_error("receive: " + ec.message());
    return answer;
  }

 private:
  void Arm() { beast::get_lowest_layer(*stream_).expires_after(kClientTimeout); }
  void Run() {
    io_.restart();
    io_.run();
  }

  asio::io_context io_;
  std::optional<asio::ssl::context> tls_;
  std::optional<Stream> stream_;
  beast::flat_buffer buffer_;
  std::string raw_;
};

using Plain = Conn<beast::tcp_stream>;
using Secure = Conn<beast::ssl_stream<beast::tcp_stream>>;

Response Echo(const Request& r) {
  if (r.path == "/throw") throw std::runtime_error("boom");
  const auto probe = r.headers.find("x-probe");
  return {
      200, "text/plain",
      r.method + " " + r.path + " " + r.body + (probe == r.headers.end() ? "" : " probe=" + probe->second)};
}

std::unique_ptr<HttpServer> StartPlain(std::size_t max_body = 3 << 20) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.max_body = max_body;
  auto server = HttpServer::Start(options, Echo);
  REQUIRE(server.ok());
  return std::move(*server);
}

TEST_CASE("http: keep-alive, headers, paths decoded without their query, a handler's exception is a 500") {
  auto server = StartPlain();
  Plain c(server->port());
  Answer a = c.Exchange("GET /a%20b?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(a.result_int() == 200);
  CHECK(a.body() == "GET /a b ");
  a = c.Exchange("POST /echo HTTP/1.1\r\nHost: t\r\nX-PROBE: 1\r\nx-probe: 2\r\nContent-Length: 2\r\n\r\nhi");
  CHECK(a.body() == "POST /echo hi probe=1, 2");
  a = c.Exchange("GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(a.result_int() == 400);
  a = c.Exchange("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(a.result_int() == 500);
  CHECK_THAT(a.body(), Catch::Contains("boom"));
  a = c.Exchange("GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(a.result_int() == 200);
  CHECK_FALSE(a.keep_alive());
  Answer none;
  CHECK(c.Receive(none) == bhttp::error::end_of_stream);
}

TEST_CASE("http: a body over the limit is a 413, a malformed request a 400, Expect: 100-continue works") {
  auto server = StartPlain(/*max_body=*/16);
  {
    // Refused on its header, before the client sends a byte of the body.
    Plain c(server->port());
    Answer a = c.Exchange("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n");
    CHECK(a.result_int() == 413);
    CHECK_THAT(a.body(), Catch::Contains("larger than 16 bytes"));
  }
  for (const std::string& bad : {
           std::string("NOT HTTP AT ALL\r\n\r\n"),
           "GET /x HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20 << 10, 'a') +
               "\r\n\r\n",  // header > 16 KiB
           std::string(
               "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n"),
       }) {
    Plain c(server->port());
    CHECK(c.Exchange(bad).result_int() == 400);
  }
  {
    // Chunked bodies count against the limit as they arrive.
    Plain c(server->port());
    Answer a =
        c.Exchange("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
    CHECK(a.body() == "POST /x hi");
    a = c.Exchange("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n" +
                   std::string(17, 'b') + "\r\n0\r\n\r\n");
    CHECK(a.result_int() == 413);
  }
  {
    Plain c(server->port());
    Answer a = c.Exchange("POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    CHECK(a.result_int() == 100);
    a = c.Exchange("hello");
    CHECK(a.result_int() == 200);
    CHECK(a.body() == "POST /x hello");
  }
}

TEST_CASE("https: an unusable certificate or key is an error") {
  auto tls = webhook::GenerateTls({"127.0.0.1"});
  auto other = webhook::GenerateTls({"127.0.0.1"});
  REQUIRE(tls.ok());
  REQUIRE(other.ok());
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls = ServerTls{tls->cert_pem, other->key_pem};
  CHECK(HttpServer::Start(options, Echo).status().code() == Code::kInvalidArgument);
  options.tls = ServerTls{"not a certificate", tls->key_pem};
  CHECK(HttpServer::Start(options, Echo).status().code() == Code::kInvalidArgument);
}

TEST_CASE("https: SetTls serves new connections with the new certificate, open ones keep theirs") {
  auto first = webhook::GenerateTls({"127.0.0.1"});
  REQUIRE(first.ok());
  auto reissued = webhook::ReissueTls(*first, {"127.0.0.1"});
  auto other_ca = webhook::GenerateTls({"127.0.0.1"});
  REQUIRE(reissued.ok());
  REQUIRE(other_ca.ok());
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls = ServerTls{first->cert_pem, first->key_pem};
  auto started = HttpServer::Start(options, Echo);
  REQUIRE(started.ok());
  HttpServer& server = **started;
  const std::string get = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";

  Secure open(server.port(), first->ca_pem);
  REQUIRE(!open.Handshake());
  CHECK(open.Exchange(get).result_int() == 200);

  // From the same CA: clients notice nothing.
  REQUIRE(server.SetTls({reissued->cert_pem, reissued->key_pem}).ok());
  Secure same_ca(server.port(), first->ca_pem);
  CHECK(!same_ca.Handshake());

  // From another CA: only clients that trust it connect; the open connection carries on.
  REQUIRE(server.SetTls({other_ca->cert_pem, other_ca->key_pem}).ok());
  Secure trusting(server.port(), other_ca->ca_pem);
  CHECK(!trusting.Handshake());
  Secure stale(server.port(), first->ca_pem);
  CHECK(stale.Handshake());
  CHECK(open.Exchange(get).result_int() == 200);

  // A certificate that does not load leaves the current one in place.
  CHECK(server.SetTls({"not a certificate", other_ca->key_pem}).code() == Code::kInvalidArgument);
  Secure still(server.port(), other_ca->ca_pem);
  CHECK(!still.Handshake());

  auto plain = StartPlain();
  CHECK(plain->SetTls({first->cert_pem, first->key_pem}).code() == Code::kFailedPrecondition);
}

// The streams handed out by StreamingHandler, in order.
class Streams {
 public:
  Handler handler() {
    return [this](const Request& r) {
      if (r.path != "/stream") return Echo(r);
      Response response(200, "application/json", "ignored");
      response.headers["X-Stream"] = "yes";
      response.stream = std::make_shared<BodyStream>();
      std::lock_guard lock(mu_);
      made_.push_back(response.stream);
      cv_.notify_all();
      return response;
    };
  }
  std::shared_ptr<BodyStream> Wait(std::size_t n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kClientTimeout, [&] { return made_.size() >= n; }))
      throw std::runtime_error("no stream");
    return made_[n - 1];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<BodyStream>> made_;
};

TEST_CASE("http: a streamed body arrives as it is written, chunked, or to HTTP/1.0 until the close") {
  Streams streams;
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  auto started = HttpServer::Start(options, streams.handler());
  REQUIRE(started.ok());
  std::unique_ptr<HttpServer> server = std::move(*started);

  Plain c(server->port());
  REQUIRE(!c.Send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::shared_ptr<BodyStream> body = streams.Wait(1);
  CHECK(body->Write("one\n"));  // written before the header went out: kept
  const std::string head = c.ReadUntil("\r\n\r\n");
  CHECK_THAT(head, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(head, Catch::Contains("Transfer-Encoding: chunked\r\n"));
  CHECK_THAT(head, Catch::Contains("X-Stream: yes\r\n"));
  CHECK(c.ReadUntil("one\n") == "4\r\none\n");
  // Each Write reaches the client while the producer waits for it: nothing is held back.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(body->Write("event " + std::to_string(i) + "\n"));
    CHECK(c.ReadUntil("event " + std::to_string(i) + "\n") == "\r\n8\r\nevent " + std::to_string(i) + "\n");
  }
  body->Close();
  CHECK(c.ReadUntil("0\r\n\r\n") == "\r\n0\r\n\r\n");
  CHECK_FALSE(body->Write("late"));
  CHECK(c.Exchange("GET /after HTTP/1.1\r\nHost: t\r\n\r\n").body() == "GET /after ");  // kept alive

  Plain old(server->port());
  REQUIRE(!old.Send("GET /stream HTTP/1.0\r\n\r\n"));
  body = streams.Wait(2);
  body->Write("plain ");
  body->Write("bytes");
  body->Close();
  const std::string whole = old.ReadUntil("");
  CHECK_THAT(whole, Catch::StartsWith("HTTP/1.0 200 OK\r\n"));
  CHECK_THAT(whole, Catch::EndsWith("\r\n\r\nplain bytes"));

  // A client that hangs up: the producer learns it from Write.
  {
    Plain gone(server->port());
    REQUIRE(!gone.Send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"));
    gone.ReadUntil("\r\n\r\n");
  }
  body = streams.Wait(3);
  const auto deadline = std::chrono::steady_clock::now() + kClientTimeout;
  // Writes until the connection notices; at most 1 MiB waits unsent, so a server that never notices
  // fails the check below instead of filling memory.
  while (!body->Abandoned() && std::chrono::steady_clock::now() < deadline) {
    if (body->Unsent() < (1 << 20)) body->Write(std::string(64 << 10, 'x'));
    std::this_thread::yield();
  }
  CHECK(body->Abandoned());

  // Stop() with a stream open and its producer writing: the stream is abandoned, nothing crashes.
  Plain open(server->port());
  REQUIRE(!open.Send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"));
  open.ReadUntil("\r\n\r\n");
  body = streams.Wait(4);
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    while (!stop && body->Write("tick\n")) std::this_thread::yield();
  });
  open.ReadUntil("tick\n");
  server.reset();
  CHECK(body->Abandoned());
  CHECK_FALSE(body->Write("after stop"));
  stop = true;
  producer.join();
}

// cpprestsdk's listener, which served the webhook before, crashed now and then when it was closed
// while an answer was being written. Every round stops the server with connections in every state
// and a client sending requests as fast as it can.
TEST_CASE("https: Stop() while clients hold connections in every state") {
  auto tls = webhook::GenerateTls({"127.0.0.1"});
  REQUIRE(tls.ok());
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls = ServerTls{tls->cert_pem, tls->key_pem};
  const std::string get = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";
  for (int round = 0; round < 10; ++round) {
    auto started = HttpServer::Start(options, Echo);
    REQUIRE(started.ok());
    std::unique_ptr<HttpServer> server = std::move(*started);
    const int port = server->port();

    Secure idle(port, tls->ca_pem);  // served once, kept alive
    REQUIRE(!idle.Handshake());
    CHECK(idle.Exchange(get).body() == "GET /x ");
    Secure half(port, tls->ca_pem);  // a body that never comes
    REQUIRE(!half.Handshake());
    REQUIRE(!half.Send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n"));
    Plain silent(port);  // connected, no TLS handshake

    std::promise<void> busy;
    std::thread hammer([&, port] {
      Secure c(port, tls->ca_pem);
      int served = 0;
      if (!c.Handshake()) {
        Answer a;
        while (!c.Send(get) && !c.Receive(a)) {
          if (++served == 3) busy.set_value();
        }
      }
      if (served < 3) busy.set_value();
    });
    busy.get_future().wait();
    server.reset();
    hammer.join();

    Answer a;
    CHECK(idle.Receive(a));
    CHECK(half.Receive(a));
    CHECK(silent.Receive(a));
  }
}

}  // namespace
}  // namespace gpupool::http
