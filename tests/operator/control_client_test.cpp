// The operator's Control API client against a real gpupool-server that authenticates clients: TLS
// with the servers' CA and their token, as the chart configures it (--server-tls-ca-file,
// --server-token-file); without the token the server refuses, and says why.
#include "operator/controllers/control_client.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <optional>

#include "common/read_file.h"
#include "tests/support/process.h"
#include "tests/support/test_pki.h"

namespace gpupool::testing {
namespace {

constexpr std::chrono::seconds kWait{20};

TEST_CASE("control client: TLS with the servers' CA, and their token with every call") {
  auto pki = TestPki::Create();
  TempDir dir;
  const std::string token = dir.File("token");
  { std::ofstream(token) << "op-t0ken\n"; }
  auto server =
      Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--listen", "127.0.0.1:0",
                         "--control-listen", "127.0.0.1:0", "--tls-cert-file", pki->server.cert_file,
                         "--tls-key-file", pki->server.key_file, "--token-file", token});
  REQUIRE(server.ok());
  auto line = server->WaitForLine("control on 127.0.0.1:", kWait);
  REQUIRE(line.ok());
  std::string control = line->substr(line->find("127.0.0.1:"));
  while (!control.empty() && (control.back() == '\n' || control.back() == '\r')) control.pop_back();

  control::ControlAccess access;
  access.tls_ca_file = pki->client.ca_file;
  access.tls_server_name = "gpupool-server.test";
  access.token_file = token;
  auto client = controllers::NewGrpcControlClient({}, access);
  auto inventory = client->GetInventory(control);
  INFO(inventory.status().ToString());
  REQUIRE(inventory.ok());
  CHECK(inventory->device_kind() == "emulated");
  CHECK(client->ListAdmissions(control).ok());

  control::ControlAccess no_token = access;
  no_token.token_file.clear();
  auto refused = controllers::NewGrpcControlClient({}, no_token)->GetInventory(control);
  CHECK(refused.status().code() == Code::kUnauthenticated);

  control::ControlAccess bad_ca = access;
  bad_ca.tls_ca_file = dir.File("absent-ca.pem");
  auto unreadable = controllers::NewGrpcControlClient({}, bad_ca)->GetInventory(control);
  CHECK_FALSE(unreadable.ok());
  CHECK_THAT(unreadable.status().message(), Catch::Contains("absent-ca.pem"));
}

// The servers' CA replaced (operator.md: a new CA is published in ca.crt, then signs): the client's
// gRPC channels, which keep the CA they were made with, must follow the bundle once it changes.
TEST_CASE(
    "control client: a changed servers' CA bundle reaches servers that now serve the new CA's certificate") {
  auto pki = TestPki::Create();
  TempDir dir;
  const std::string bundle = dir.File("ca.crt");
  auto read = [](const std::string& path) { return ReadTextFile(path).value_or(""); };
  { std::ofstream(bundle) << read(pki->client.ca_file); }
  auto start = [&](const std::string& control_listen) {
    auto server =
        Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--listen", "127.0.0.1:0",
                           "--control-listen", control_listen, "--tls-cert-file", pki->server.cert_file,
                           "--tls-key-file", pki->server.key_file, "--allow-unauthenticated"});
    REQUIRE(server.ok());
    REQUIRE(server->WaitForLine("control on 127.0.0.1:", kWait).ok());
    return std::move(*server);
  };
  std::optional<Subprocess> server = start("127.0.0.1:0");
  const std::string out = server->output();
  std::string control = out.substr(out.find("control on 127.0.0.1:") + std::string("control on ").size());
  control = control.substr(0, control.find_first_of(" \r\n"));

  control::ControlAccess access;
  access.tls_ca_file = bundle;
  access.tls_server_name = "gpupool-server.test";
  auto client = controllers::NewGrpcControlClient({}, access);
  REQUIRE(client->GetInventory(control).ok());

  // The server comes back (same address) with a certificate from a new CA.
  server->Signal(SIGTERM);
  REQUIRE(server->Wait(kWait).ok());
  server.reset();
  const protocol::TlsClientFiles rotated = pki->Rotate({"gpupool-server.test", "127.0.0.1"});
  server.emplace(start(control));
  CHECK_FALSE(client->GetInventory(control).ok());  // the bundle does not hold the new CA yet

  { std::ofstream(bundle) << read(pki->client.ca_file) << read(rotated.ca_file); }
  auto inventory = client->GetInventory(control);
  INFO(inventory.status().ToString());
  CHECK(inventory.ok());
}

}  // namespace
}  // namespace gpupool::testing
