#include "tests/remoting/server/test_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace gpupool::testing {

namespace {
std::string After(const std::string& line, const std::string& marker) {
  auto at = line.find(marker);
  REQUIRE(at != std::string::npos);
  std::string rest = line.substr(at + marker.size());
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.pop_back();
  return rest;
}
}  // namespace

ServerProcess ServerProcess::Start(const std::vector<std::string>& extra,
                                   const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {BinDir() + "/gpupool-server", "--device", "emulated", "--listen",
                                   "127.0.0.1:0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  SubprocessOptions options;
  options.env = env;
  auto process = Subprocess::Start(argv, options);
  REQUIRE(process.ok());
  ServerProcess server{std::move(*process), {}, {}, {}};
  bool want_control = false, want_metrics = false;
  for (const auto& a : extra) {
    want_control |= a == "--control-listen";
    want_metrics |= a == "--metrics-listen";
  }
  if (want_control) {
    auto line = server.process.WaitForLine("control on ", kWait);
    INFO(line.status().ToString());
    REQUIRE(line.ok());
    server.control = After(*line, "control on ");
  }
  if (want_metrics) {
    auto line = server.process.WaitForLine("metrics on ", kWait);
    REQUIRE(line.ok());
    server.metrics = After(*line, "metrics on ");
  }
  auto line = server.process.WaitForLine("listening on 127.0.0.1:", kWait);
  INFO(line.status().ToString());
  REQUIRE(line.ok());
  auto endpoint = ParseEndpoint(After(*line, "listening on "));
  REQUIRE(endpoint.ok());
  server.endpoint = *endpoint;
  return server;
}

TestClient TestClient::Raw(const Endpoint& endpoint, const protocol::TlsClientFiles* tls) {
  auto conn = protocol::Connect(endpoint, std::chrono::seconds(5));
  REQUIRE(conn.ok());
  if (tls != nullptr) {
    Status started = conn->StartTlsClient(*tls, endpoint.host, kWait);
    INFO(started.ToString());
    REQUIRE(started.ok());
  }
  REQUIRE(conn->SetReceiveTimeout(kWait).ok());  // a hang fails the test instead of blocking it
  return TestClient(std::move(*conn));
}

Result<std::uint64_t> TestClient::Hello(const std::string& pod_uid, const std::string& token,
                                        const std::string& pod_token) {
  protocol::Hello hello{protocol::kMagic,
                        protocol::kProtocolVersion,
                        token,
                        "server_test",
                        static_cast<std::uint32_t>(::getpid()),
                        pod_uid,
                        pod_token};
  GPUPOOL_RETURN_IF_ERROR(conn_.SendFrame(protocol::kOpHello, 0, 0, {protocol::EncodeHello(hello)}));
  GPUPOOL_ASSIGN_OR_RETURN(protocol::FrameHeader header, conn_.ReadHeader());
  std::string payload;
  GPUPOOL_RETURN_IF_ERROR(conn_.ReadPayload(header.payload_size, &payload));
  if (header.opcode == protocol::kOpError) {
    GPUPOOL_ASSIGN_OR_RETURN(protocol::ErrorMessage error, protocol::DecodeError(payload));
    return Status(error.code, error.message);
  }
  if (header.opcode != protocol::kOpHelloOk) return Status::Internal("Hello answered with another frame");
  GPUPOOL_ASSIGN_OR_RETURN(protocol::HelloOk ok, protocol::DecodeHelloOk(payload));
  if (ok.device_kind != "emulated") return Status::Internal("device kind " + ok.device_kind);
  return ok.session_id;
}

TestClient TestClient::Open(const Endpoint& endpoint, const std::string& pod_uid, const std::string& token,
                            const protocol::TlsClientFiles* tls) {
  TestClient client = Raw(endpoint, tls);
  auto id = client.Hello(pod_uid, token);
  if (!id.ok()) FAIL("handshake refused: " << id.status().ToString());
  client.session_id_ = *id;
  return client;
}

void TestClient::UseDevice(int device) {
  auto ctx = Call<protocol::Op::DevicePrimaryCtxRetain>({device});
  REQUIRE(ctx.result == CUDA_SUCCESS);
  Call<protocol::Op::CtxSetCurrent>({std::get<0>(ctx.fields)});
}

protocol::FrameHeader TestClient::NextReply(std::string* payload) {
  auto header = conn_.ReadHeader();
  INFO(header.status().ToString());
  REQUIRE(header.ok());
  REQUIRE(conn_.ReadPayload(header->payload_size, payload).ok());
  if (header->opcode == protocol::kOpError)
    FAIL("server ended the session: " << protocol::DecodeError(*payload)->message);
  REQUIRE((header->flags & protocol::kFlagReply) != 0);
  return *header;
}

std::string TestClient::ReadReply(std::uint64_t request_id, std::uint16_t opcode) {
  std::string payload;
  const protocol::FrameHeader header = NextReply(&payload);
  REQUIRE(header.opcode == opcode);
  REQUIRE(header.request_id == request_id);
  return payload;
}

protocol::ErrorMessage TestClient::ExpectErrorAndClose() {
  auto header = conn_.ReadHeader();
  INFO(header.status().ToString());
  REQUIRE(header.ok());
  REQUIRE(header->opcode == protocol::kOpError);
  std::string payload;
  REQUIRE(conn_.ReadPayload(header->payload_size, &payload).ok());
  auto error = protocol::DecodeError(payload);
  REQUIRE(error.ok());
  auto next = conn_.ReadHeader();  // the server closes after an Error frame
  REQUIRE_FALSE(next.ok());
  CHECK(next.status().code() == Code::kUnavailable);
  return *error;
}

std::string HttpGet(const std::string& address, const std::string& path) {
  auto endpoint = ParseEndpoint(address);
  REQUIRE(endpoint.ok());
  auto conn = protocol::Connect(*endpoint, std::chrono::seconds(5));
  REQUIRE(conn.ok());
  REQUIRE(conn->SetReceiveTimeout(kWait).ok());
  std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
  REQUIRE(::send(conn->fd(), request.data(), request.size(), MSG_NOSIGNAL) > 0);
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(conn->fd(), buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<std::size_t>(n));
  return response;
}

std::string Header(std::uint32_t size, std::uint16_t opcode, std::uint16_t flags, std::uint64_t id) {
  unsigned char h[protocol::kHeaderSize];
  protocol::EncodeHeader({size, opcode, flags, id}, h);
  return std::string(reinterpret_cast<char*>(h), sizeof h);
}

void SendRaw(protocol::Connection& conn, const std::string& bytes) {
  REQUIRE(::send(conn.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

std::string Pattern(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

}  // namespace gpupool::testing
