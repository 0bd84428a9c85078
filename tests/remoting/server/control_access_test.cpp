// Who may use the Control API (remoting/server/control_access.h), through the clients' own channel
// code (common/control): the server's token, TLS with the data port's certificate, client
// certificates, and the loopback-only rule for servers without client authentication.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "common/control/control_channel.h"
#include "gpupool/control/v1/control.grpc.pb.h"
#include "tests/remoting/server/test_client.h"
#include "tests/support/test_pki.h"

namespace gpupool::testing {
namespace {

namespace cv1 = control::v1;
using control::ControlAccess;

// A stub for `target` and a context for one call, both as `access` says.
struct Caller {
  std::unique_ptr<cv1::Control::Stub> stub;
  grpc::ClientContext ctx;
};

std::unique_ptr<Caller> Connect(const std::string& target, const ControlAccess& access) {
  auto channel = control::OpenControlChannel(target, access);
  REQUIRE(channel.ok());
  auto caller = std::make_unique<Caller>();
  caller->stub = cv1::Control::NewStub(*channel);
  caller->ctx.set_deadline(std::chrono::system_clock::now() + kWait);
  REQUIRE(control::AuthorizeCall(access, &caller->ctx).ok());
  return caller;
}

// GetInventory through a channel opened with `access`: the gRPC status code.
grpc::StatusCode Inventory(const std::string& target, const ControlAccess& access,
                           std::string* message = nullptr) {
  auto c = Connect(target, access);
  cv1::Inventory out;
  grpc::Status status = c->stub->GetInventory(&c->ctx, {}, &out);
  if (message != nullptr) *message = status.error_message();
  return status.error_code();
}

grpc::StatusCode Admit(const std::string& target, const ControlAccess& access) {
  auto c = Connect(target, access);
  cv1::AdmitRequest req;
  req.set_pod_uid("intruder");
  cv1::AdmitResponse out;
  return c->stub->Admit(&c->ctx, req, &out).error_code();
}

TEST_CASE("a server with a token asks Control callers for it, and reads it anew for each call") {
  TempDir dir;
  { std::ofstream(dir.File("token")) << "first\n"; }
  { std::ofstream(dir.File("wrong")) << "second\n"; }
  ServerProcess server =
      ServerProcess::Start({"--token-file", dir.File("token"), "--control-listen", "127.0.0.1:0"});
  ControlAccess none;
  std::string message;
  CHECK(Inventory(server.control, none, &message) == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(message, Catch::Contains("token"));
  CHECK(Admit(server.control, none) == grpc::StatusCode::UNAUTHENTICATED);
  ControlAccess wrong;
  wrong.token_file = dir.File("wrong");
  CHECK(Inventory(server.control, wrong) == grpc::StatusCode::UNAUTHENTICATED);
  ControlAccess right;
  right.token_file = dir.File("token");
  CHECK(Inventory(server.control, right) == grpc::StatusCode::OK);

  { std::ofstream(dir.File("token")) << "second\n"; }  // rotated: the old token stops working
  CHECK(Inventory(server.control, wrong) == grpc::StatusCode::OK);
  { std::ofstream(dir.File("wrong")) << "first\n"; }
  CHECK(Inventory(server.control, wrong) == grpc::StatusCode::UNAUTHENTICATED);

  ControlAccess missing;
  missing.token_file = dir.File("absent");
  grpc::ClientContext ctx;
  CHECK(control::AuthorizeCall(missing, &ctx).code() == Code::kNotFound);
}

TEST_CASE("a TLS server serves Control over TLS with its data certificate, client certificates also let in") {
  auto pki = TestPki::Create();
  TempDir dir;
  { std::ofstream(dir.File("token")) << "t0ken\n"; }
  ServerProcess server =
      ServerProcess::Start({"--tls-cert-file", pki->server.cert_file, "--tls-key-file", pki->server.key_file,
                            "--tls-client-ca-file", pki->client_ca, "--token-file", dir.File("token"),
                            "--control-listen", "127.0.0.1:0"});

  ControlAccess tls;
  tls.tls_ca_file = pki->client.ca_file;
  tls.token_file = dir.File("token");
  CHECK(Inventory(server.control, tls) == grpc::StatusCode::OK);

  ControlAccess plaintext;  // the right token, without TLS: the handshake fails
  plaintext.token_file = dir.File("token");
  CHECK(Inventory(server.control, plaintext) == grpc::StatusCode::UNAVAILABLE);

  auto other = TestPki::Create();  // a CA the server's certificate does not chain to
  ControlAccess wrong_ca = tls;
  wrong_ca.tls_ca_file = other->client.ca_file;
  CHECK(Inventory(server.control, wrong_ca) == grpc::StatusCode::UNAVAILABLE);

  ControlAccess named = tls;  // the certificate names gpupool-server.test as well as 127.0.0.1
  named.tls_server_name = "gpupool-server.test";
  CHECK(Inventory(server.control, named) == grpc::StatusCode::OK);

  ControlAccess tls_no_token;
  tls_no_token.tls_ca_file = pki->client.ca_file;
  CHECK(Inventory(server.control, tls_no_token) == grpc::StatusCode::UNAUTHENTICATED);
  const protocol::TlsClientFiles with_cert = pki->WithClientCertificate();
  ControlAccess certificate = tls_no_token;
  certificate.tls_cert_file = with_cert.cert_file;
  certificate.tls_key_file = with_cert.key_file;
  CHECK(Inventory(server.control, certificate) == grpc::StatusCode::OK);
}

TEST_CASE("without client authentication the Control port moves to loopback too") {
  ServerProcess server = ServerProcess::Start({"--listen", "0.0.0.0:0", "--control-listen", "0.0.0.0:0"});
  CHECK_THAT(server.process.output(), Catch::Contains("no client authentication configured"));
  CHECK_THAT(server.control, Catch::StartsWith("127.0.0.1:"));
  CHECK(Inventory(server.control, {}) == grpc::StatusCode::OK);  // local callers need nothing
}

}  // namespace
}  // namespace gpupool::testing
