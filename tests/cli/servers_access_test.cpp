// `gpupool servers` against a real gpupool-server that authenticates clients: its Control API over TLS
// (the data port's certificate) with the server's token (remoting/server/control_access.h).
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/cli/cli_runner.h"
#include "tests/support/test_pki.h"

namespace gpupool::testing {

TEST_CASE("servers: a server with a token and a certificate answers its Control API over TLS with the token",
          "[servers]") {
  auto pki = TestPki::Create();
  TempDir dir;
  const std::string token = dir.File("token");
  { std::ofstream(token) << "s3cret\n"; }
  auto server =
      Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--listen", "127.0.0.1:0",
                         "--control-listen", "127.0.0.1:0", "--tls-cert-file", pki->server.cert_file,
                         "--tls-key-file", pki->server.key_file, "--token-file", token});
  REQUIRE(server.ok());
  auto line = server->WaitForLine("control on 127.0.0.1:", kCliTimeout);
  REQUIRE(line.ok());
  std::string control = line->substr(line->find("127.0.0.1:"));
  while (!control.empty() && (control.back() == '\n' || control.back() == '\r')) control.pop_back();

  auto ok = RunGpupool({"servers", "--control", control, "--tls-ca-file", pki->client.ca_file, "--json"},
                       {{"GPUPOOL_TOKEN_FILE", token}});
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("\"deviceKind\"") != std::string::npos);

  auto no_token = RunGpupool({"servers", "--control", control, "--tls-ca-file", pki->client.ca_file});
  INFO(no_token.output);
  CHECK(no_token.exit_code == 1);
  CHECK(no_token.output.find("token") != std::string::npos);

  auto plaintext = RunGpupool({"servers", "--control", control, "--token-file", token});
  INFO(plaintext.output);
  CHECK(plaintext.exit_code == 1);
}

}  // namespace gpupool::testing
