// gpupool-server's command line: bad flags exit 2 with a message naming the problem; a Unix socket
// listener serves sessions too.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

TEST_CASE("bad command lines exit 2 and say what is wrong") {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--listen", "127.0.0.1:0"}, "--device is required"},
      {{"--device", "gpu", "--listen", "127.0.0.1:0"}, "'gpu' is not one of cuda, emulated"},
      {{"--device", "emulated"}, "--listen HOST:PORT is required"},
      {{"--device", "emulated", "--listen", "nope"}, "--listen"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--emulated-gpus", "0"}, "--emulated-gpus"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--emulated-memory", "lots"}, "--emulated-memory"},
      {{"--device", "cuda", "--listen", "127.0.0.1:0", "--emulated-gpus", "2"}, "need --device emulated"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--emulated-lost-gpu", "1"},
       "--emulated-lost-gpu: there is no GPU 1 among --emulated-gpus 1"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--emulated-lost-gpu", "-1"},
       "--emulated-lost-gpu"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--session-memory"},
       "--session-memory needs a value"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--session-percent", "0"}, "--session-percent"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--share-idle", "maybe"},
       "--share-idle: on or off"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--kernel-timeout", "5"}, "needs a unit"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--spin-us", "20000"}, "--spin-us: at most 10000"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--spin-us", "x"}, "--spin-us"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--session-mapped-memory", "65GiB"},
       "--session-mapped-memory: '65GiB' is not a size up to 64GiB"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--session-mapped-memory", "lots"},
       "--session-mapped-memory"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--emulated-kernel-time", "x"},
       "--emulated-kernel-time"},
      {{"--device", "cuda", "--listen", "127.0.0.1:0", "--emulated-kernel-time", "2ms"},
       "need --device emulated"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--frobnicate", "1"}, "unknown flag --frobnicate"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--kube-api-server", "http://127.0.0.1:1"},
       "--kube-api-* configure --pod-token-review, which is not given"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--pod-token-review", "--kube-api-server",
        "api:6443"},
       "--kube-api-server: a URL"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--pod-token-review", "--kube-api-token-file",
        "t"},
       "go with --kube-api-server"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--pod-token-review", "--pod-token-cache-ttl",
        "5m"},
       "--pod-token-cache-ttl: at most 60s"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "stray"}, "unexpected argument 'stray'"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--unix", "/tmp/x.sock", "--unix-mode", "rw"},
       "--unix-mode: 'rw' is not an octal mode"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--unix", "/tmp/x.sock", "--unix-mode", "4755"},
       "--unix-mode: '4755' is not an octal mode"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--unix-mode", "0600"},
       "--unix-mode needs --unix"},
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--unix-gpu-list"},
       "--unix-gpu-list needs --unix"},
      // Others may write: a door for every local user, so only with client authentication.
      {{"--device", "emulated", "--listen", "127.0.0.1:0", "--unix", "/tmp/x.sock", "--unix-mode", "0666"},
       "--unix-mode lets other users connect, but no client authentication is configured"},
  };
  for (const Case& k : cases) {
    std::vector<std::string> argv = {BinDir() + "/gpupool-server"};
    argv.insert(argv.end(), k.args.begin(), k.args.end());
    INFO(k.message);
    auto p = Subprocess::Start(argv);
    REQUIRE(p.ok());
    auto code = p->Wait(kWait);
    REQUIRE(code.ok());
    CHECK(*code == 2);
    CHECK(p->output().find(k.message) != std::string::npos);
    CHECK(p->output().find("usage: gpupool-server") != std::string::npos);
  }
}

TEST_CASE("sessions over a Unix socket given as --listen or --unix") {
  TempDir dir;
  for (std::string flag : {"--listen", "--unix"}) {
    INFO(flag);
    std::string path = dir.File(flag.substr(2) + ".sock");
    std::vector<std::string> argv = {BinDir() + "/gpupool-server", "--device", "emulated"};
    if (flag == "--listen") {
      argv.insert(argv.end(), {"--listen", "unix:" + path});
    } else {
      argv.insert(argv.end(), {"--listen", "127.0.0.1:0", "--unix", path});
    }
    auto p = Subprocess::Start(argv);
    REQUIRE(p.ok());
    REQUIRE(p->WaitForLine("listening on unix:" + path, kWait).ok());
    Endpoint e;
    e.kind = Endpoint::Kind::kUnix;
    e.path = path;
    TestClient c = TestClient::Open(e);
    c.UseDevice0();
    CHECK(c.Result<protocol::Op::MemAlloc>({4096}) == CUDA_SUCCESS);
  }
}

TEST_CASE("a Unix socket gets the permission bits --unix-mode gives, before the server accepts") {
  TempDir dir;
  std::ofstream(dir.File("token")) << "t\n";
  const std::string path = dir.File("shared.sock");
  for (const char* mode : {"0666", "0600"}) {
    INFO(mode);
    auto p =
        Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--listen", "127.0.0.1:0",
                           "--unix", path, "--unix-mode", mode, "--token-file", dir.File("token")});
    REQUIRE(p.ok());
    REQUIRE(p->WaitForLine("listening on unix:" + path, kWait).ok());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == std::stoul(mode, nullptr, 8));
  }
}

TEST_CASE(
    "with --unix-gpu-list the server lists its GPUs next to its Unix socket while it runs, readable by all") {
  TempDir dir;
  std::ofstream(dir.File("token")) << "t\n";
  const std::string path = dir.File("server.sock");
  std::ofstream(path + ".gpus") << "GPU-left-by-an-earlier-server\n";
  auto p = Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--emulated-gpus", "2",
                              "--listen", "127.0.0.1:0", "--unix", path, "--unix-gpu-list", "--token-file",
                              dir.File("token")});
  REQUIRE(p.ok());
  REQUIRE(p->WaitForLine("listed 2 GPUs in " + path + ".gpus", kWait).ok());
  std::ifstream in(path + ".gpus");
  std::string first, second, rest;
  std::getline(in, first);
  std::getline(in, second);
  CHECK(first.rfind("GPU-", 0) == 0);
  CHECK(second.rfind("GPU-", 0) == 0);
  CHECK(first != second);
  CHECK_FALSE(std::getline(in, rest));
  struct stat st {};
  REQUIRE(::stat((path + ".gpus").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  p->Signal(SIGTERM);
  REQUIRE(p->Wait(kWait).ok());
  CHECK(::access((path + ".gpus").c_str(), F_OK) != 0);  // withdrawn with the socket
  CHECK(::access(path.c_str(), F_OK) != 0);

  // Without --unix-gpu-list no list is written (no inventory query at start), and a stale one goes.
  std::ofstream(path + ".gpus") << "GPU-left-by-an-earlier-server\n";
  auto plain = Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--listen",
                                  "127.0.0.1:0", "--unix", path, "--token-file", dir.File("token")});
  REQUIRE(plain.ok());
  REQUIRE(plain->WaitForLine("device; listening on", kWait).ok());
  CHECK(::access((path + ".gpus").c_str(), F_OK) != 0);
}

TEST_CASE("a token file makes the token required") {
  TempDir dir;
  {
    std::FILE* f = std::fopen(dir.File("token").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("s3cret\n", f);
    std::fclose(f);
  }
  ServerProcess server = ServerProcess::Start({"--token-file", dir.File("token")});
  TestClient ok = TestClient::Open(server.endpoint, "", "s3cret");
  CHECK(ok.Result<protocol::Op::DeviceGetCount>({}) == CUDA_SUCCESS);
  for (std::string token : {"", "s3cre", "s3cret!", "wrong"}) {
    INFO("token '" << token << "'");
    TestClient raw = TestClient::Raw(server.endpoint);
    std::string hello =
        protocol::EncodeHello({protocol::kMagic, protocol::kProtocolVersion, token, "t", 1, "", ""});
    REQUIRE(raw.conn().SendFrame(protocol::kOpHello, 0, 0, {hello}).ok());
    CHECK(raw.ExpectErrorAndClose().code == Code::kUnauthenticated);
  }
}

}  // namespace
}  // namespace gpupool::testing

namespace gpupool::testing {
namespace {

TEST_CASE("stopping the server tells every session why and exits 0") {
  ServerProcess server = ServerProcess::Start();
  TestClient a = TestClient::Open(server.endpoint);
  TestClient b = TestClient::Open(server.endpoint);
  a.UseDevice0();
  REQUIRE(a.Result<protocol::Op::MemAlloc>({4096}) == CUDA_SUCCESS);
  server.process.Signal(SIGTERM);
  for (TestClient* c : {&a, &b}) {
    protocol::ErrorMessage error = c->ExpectErrorAndClose();
    CHECK(error.code == Code::kUnavailable);
    CHECK(error.message.find("server stopping") != std::string::npos);
  }
  auto code = server.process.Wait(kWait);
  REQUIRE(code.ok());
  CHECK(*code == 0);
}

}  // namespace
}  // namespace gpupool::testing

namespace gpupool::testing {
namespace {

TEST_CASE("without client authentication the server listens on loopback only, and says so") {
  ServerProcess unauthenticated = ServerProcess::Start({"--listen", "0.0.0.0:0"});
  CHECK(unauthenticated.endpoint.host == "127.0.0.1");
  CHECK_THAT(unauthenticated.process.output(), Catch::Contains("no client authentication configured") &&
                                                   Catch::Contains("instead of 0.0.0.0:0"));
  CHECK(TestClient::Open(unauthenticated.endpoint).session_id() != 0);

  TempDir dir;
  { std::ofstream(dir.File("token")) << "t0ken\n"; }
  const std::vector<std::vector<std::string>> kept = {{"--token-file", dir.File("token")},
                                                      {"--allow-unauthenticated"}};
  for (const auto& extra : kept) {
    std::vector<std::string> argv = {BinDir() + "/gpupool-server", "--device", "emulated", "--listen",
                                     "0.0.0.0:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto server = Subprocess::Start(argv);
    REQUIRE(server.ok());
    auto line = server->WaitForLine("listening on ", kWait);
    INFO(line.status().ToString());
    REQUIRE(line.ok());
    CHECK_THAT(*line, Catch::Contains("listening on 0.0.0.0:"));
    CHECK_THAT(server->output(), !Catch::Contains("no client authentication"));
  }
}

}  // namespace
}  // namespace gpupool::testing
