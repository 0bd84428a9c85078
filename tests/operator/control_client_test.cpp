// The operator's Control API client against a real gpupool-server that authenticates clients: TLS
// with the servers' CA and their token, as the chart configures it (--server-tls-ca-file,
// --server-token-file); without the token the server refuses, and says why.
#include "operator/controllers/control_client.h"

#include <catch2/catch.hpp>
#include <fstream>

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

}  // namespace
}  // namespace gpupool::testing
