// gpupool-server with TLS on TCP: sessions over TLS (the worker runs TLS, the broker admits), plaintext
// on the TLS port refused with a reason, the Unix socket still plain, token and memory limit still
// enforced, certificates replaced on disk used by the next connection, silent clients dropped.
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/remoting/server/test_client.h"
#include "tests/support/test_pki.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

std::vector<std::string> TlsFlags(const TestPki& pki) {
  return {"--tls-cert-file", pki.server.cert_file, "--tls-key-file", pki.server.key_file};
}

TEST_CASE("a TLS server runs sessions over TLS and tells plaintext TCP clients why it refuses them") {
  auto pki = TestPki::Create();
  TempDir sockets;
  auto flags = TlsFlags(*pki);
  flags.insert(flags.end(), {"--unix", sockets.File("s.sock"), "--session-memory", "64MiB"});
  ServerProcess server = ServerProcess::Start(flags);
  CHECK_THAT(server.process.output(), Catch::Contains("TLS on TCP"));

  TestClient c = TestClient::Open(server.endpoint, "", "", &pki->client);
  CHECK(c.session_id() != 0);
  c.UseDevice0();
  // Bulk data both ways through TLS.
  auto alloc = c.Call<Op::MemAlloc>({8u << 20});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  const std::uint64_t ptr = std::get<0>(alloc.fields);
  const std::string data = Pattern(3u << 20, 7);
  for (std::size_t off = 0; off < data.size(); off += protocol::kChunkSize) {
    REQUIRE(c.Result<Op::MemcpyHtoD>({ptr + off}, std::string_view(data).substr(off, protocol::kChunkSize)) ==
            CUDA_SUCCESS);
  }
  std::string back;
  for (std::size_t off = 0; off < data.size(); off += protocol::kChunkSize) {
    auto chunk = c.Call<Op::MemcpyDtoH>({ptr + off, protocol::kChunkSize});
    REQUIRE(chunk.result == CUDA_SUCCESS);
    back += chunk.tail;
  }
  CHECK(back == data);
  // The memory limit reaches a TLS session's worker (from the broker, after admission).
  CHECK(c.Result<Op::MemAlloc>({60u << 20}) == CUDA_ERROR_OUT_OF_MEMORY);

  TestClient plain = TestClient::Raw(server.endpoint);
  auto refused = plain.Hello();
  CHECK(refused.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(refused.status().message(),
             Catch::Contains("only TLS") && Catch::Contains("GPUPOOL_TLS_CA_FILE"));

  Endpoint unix_socket{Endpoint::Kind::kUnix, "", 0, sockets.File("s.sock")};
  TestClient local = TestClient::Open(unix_socket);  // local: no TLS
  CHECK(local.session_id() != 0);
}

TEST_CASE("a TLS server still checks the token, and a client with the wrong CA gets no session") {
  auto pki = TestPki::Create();
  TempDir dir;
  { std::ofstream(dir.File("token")) << "s3cret\n"; }
  auto flags = TlsFlags(*pki);
  flags.insert(flags.end(), {"--token-file", dir.File("token")});
  ServerProcess server = ServerProcess::Start(flags);

  TestClient wrong_token = TestClient::Raw(server.endpoint, &pki->client);
  auto refused = wrong_token.Hello("", "guess");
  CHECK(refused.status().code() == Code::kUnauthenticated);
  CHECK(TestClient::Open(server.endpoint, "", "s3cret", &pki->client).session_id() != 0);

  auto other = TestPki::Create();
  auto conn = protocol::Connect(server.endpoint, std::chrono::seconds(5));
  REQUIRE(conn.ok());
  Status s = conn->StartTlsClient(other->client, "127.0.0.1", kWait);
  CHECK(s.code() == Code::kUnauthenticated);
  CHECK_THAT(s.message(), Catch::Contains("certificate not accepted"));
  // The worker started for that connection ends without a session (nothing to reap in the log).
  CHECK(server.process.WaitForLine("TLS handshake from", kWait).ok());
}

TEST_CASE("certificates replaced on disk serve the next connection, without a restart") {
  auto pki = TestPki::Create();
  ServerProcess server = ServerProcess::Start(TlsFlags(*pki));
  TestClient before = TestClient::Open(server.endpoint, "", "", &pki->client);
  protocol::TlsClientFiles rotated = pki->Rotate();

  TestClient after = TestClient::Open(server.endpoint, "", "", &rotated);
  CHECK(after.session_id() != 0);
  auto conn = protocol::Connect(server.endpoint, std::chrono::seconds(5));
  REQUIRE(conn.ok());
  CHECK(conn->StartTlsClient(pki->client, "127.0.0.1", kWait).code() == Code::kUnauthenticated);
  // The session that started before the rotation carries on.
  CHECK(before.Result<Op::DeviceGetCount>({}) == CUDA_SUCCESS);
}

TEST_CASE("mutual TLS: the server admits only clients with a certificate from its client CA") {
  auto pki = TestPki::Create();
  auto flags = TlsFlags(*pki);
  flags.insert(flags.end(), {"--tls-client-ca-file", pki->client_ca});
  ServerProcess server = ServerProcess::Start(flags);
  const protocol::TlsClientFiles with_cert = pki->WithClientCertificate();
  CHECK(TestClient::Open(server.endpoint, "", "", &with_cert).session_id() != 0);
  TestClient without = TestClient::Raw(server.endpoint, &pki->client);
  CHECK_FALSE(without.Hello().ok());  // TLS 1.3: the refusal arrives at the first read
}

TEST_CASE("a client that never starts TLS is dropped after the handshake deadline") {
  auto pki = TestPki::Create();
  ServerProcess server = ServerProcess::Start(TlsFlags(*pki));
  TestClient silent = TestClient::Raw(server.endpoint);
  auto header = silent.conn().ReadHeader();  // blocks until the server gives up on it
  REQUIRE_FALSE(header.ok());
  CHECK(header.status().code() == Code::kUnavailable);
  CHECK(TestClient::Open(server.endpoint, "", "", &pki->client).session_id() != 0);
}

TEST_CASE("TLS flags are checked at start-up") {
  auto pki = TestPki::Create();
  auto run = [](std::vector<std::string> args) {
    args.insert(args.begin(),
                {BinDir() + "/gpupool-server", "--device", "emulated", "--listen", "127.0.0.1:0"});
    auto p = Subprocess::Start(args);
    REQUIRE(p.ok());
    auto code = p->Wait(kWait);
    REQUIRE(code.ok());
    return std::make_pair(*code, p->output());
  };
  auto [half_code, half] = run({"--tls-cert-file", pki->server.cert_file});
  CHECK(half_code == 2);
  CHECK_THAT(half, Catch::Contains("--tls-cert-file and --tls-key-file go together"));
  auto [bad_code, bad] = run({"--tls-cert-file", pki->client_ca, "--tls-key-file", pki->server.key_file});
  CHECK(bad_code == 1);
  CHECK_THAT(bad, Catch::Contains("TLS:") && Catch::Contains("mismatch"));
}

}  // namespace
}  // namespace gpupool::testing
