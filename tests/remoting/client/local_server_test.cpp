// The client's choice between the node's own gpupool-server (its Unix socket, GPUPOOL_LOCAL_SOCKET)
// and the binding's TCP address, against a real server listening on both (colocated_server.h).
#include "remoting/client/local_server.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>

#include "tests/remoting/client/colocated_server.h"

namespace gpupool::client {
namespace {

using testing::ColocatedServer;
constexpr auto kLogWait = std::chrono::seconds(30);

std::string Upper(std::string s) {
  for (char& c : s) c = (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
  return s;
}

TEST_CASE("the local server serving the bound GPU is used over its socket, with the copy ring") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string gpu = server.Gpu();
  REQUIRE(server.process->WaitForLine("from unix: worker", kLogWait).ok());  // Gpu()'s own session
  for (const std::string& bound : {gpu, Upper(gpu)}) {
    auto session = OpenBoundSession(server.Bound(bound, server.socket));
    INFO(session.status().ToString());
    REQUIRE(session.ok());
    CHECK((*session)->copy_ring() != nullptr);
    CHECK(server.process->WaitForLine("from unix: worker", kLogWait).ok());
  }
}

TEST_CASE("a local server that does not serve the bound GPU is left for the binding's TCP address") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string gpu = server.Gpu();
  REQUIRE(server.process->WaitForLine("from unix: worker", kLogWait).ok());  // Gpu()'s own session
  const std::string other = "GPU-00000000-1111-2222-3333-444444444444";
  // The server lists its GPUs next to its socket: the client does not even connect.
  auto listed = OpenLocalSession(server.Bound(other, server.socket));
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.status().code() == Code::kFailedPrecondition);
  CHECK(listed.status().message() == "its server lists " + gpu + ", not " + other);
  auto session = OpenBoundSession(server.Bound(other, server.socket));
  REQUIRE(session.ok());
  CHECK((*session)->copy_ring() == nullptr);
  REQUIRE(server.process->WaitForLine("from 127.0.0.1:", kLogWait).ok());
  CHECK(server.process->output().find("from unix", server.process->output().find("from unix: worker") + 1) ==
        std::string::npos);  // no second session over the socket

  // Without the list (an older server), or with one that does not parse, the server is asked.
  for (const char* list : {"", "not a list\n"}) {
    INFO(list);
    if (*list == '\0') {
      REQUIRE(::unlink((server.socket + ".gpus").c_str()) == 0);
    } else {
      std::ofstream(server.socket + ".gpus") << list;
    }
    auto asked = OpenLocalSession(server.Bound(other, server.socket));
    REQUIRE_FALSE(asked.ok());
    CHECK(asked.status().message() == "its server serves " + gpu + ", not " + other);
    CHECK(server.process->WaitForLine("from unix: worker", kLogWait).ok());
  }
  // A list naming the bound GPU is only a hint: the server is asked all the same.
  std::ofstream(server.socket + ".gpus") << other << "\n";
  CHECK(OpenLocalSession(server.Bound(other, server.socket)).status().message() ==
        "its server serves " + gpu + ", not " + other);
}

TEST_CASE("no socket at the path, a file, or a dead socket: TCP, without an error") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string gpu = server.Gpu();
  std::ofstream(server.dir.File("plain-file")) << "not a socket\n";
  REQUIRE(gpupool::testing::MakeSocketFile(server.dir.File("dead.sock")));
  for (const std::string& path :
       {server.dir.File("absent.sock"), server.dir.File("plain-file"), server.dir.File("dead.sock")}) {
    INFO(path);
    auto local = OpenLocalSession(server.Bound(gpu, path));
    CHECK_FALSE(local.ok());
    auto session = OpenBoundSession(server.Bound(gpu, path));
    INFO(session.status().ToString());
    REQUIRE(session.ok());
    CHECK((*session)->copy_ring() == nullptr);
    CHECK(server.process->WaitForLine("from 127.0.0.1:", kLogWait).ok());
  }
  // Not a socket is "not found"; the other kinds of failure keep their own code.
  CHECK(OpenLocalSession(server.Bound(gpu, server.dir.File("absent.sock"))).status().code() ==
        Code::kNotFound);
}

TEST_CASE("the local socket authenticates as TCP does: a wrong token is refused on both") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string gpu = server.Gpu();
  ServerAddress wrong = server.Bound(gpu, server.socket);
  wrong.token = "not-the-node-token";
  auto local = OpenLocalSession(wrong);
  REQUIRE_FALSE(local.ok());
  CHECK(local.status().code() == Code::kUnauthenticated);
  auto any = OpenBoundSession(wrong);  // the TCP fallback refuses it as well
  REQUIRE_FALSE(any.ok());
  CHECK(any.status().code() == Code::kUnauthenticated);
  ServerAddress none = server.Bound(gpu, server.socket);
  none.token.clear();
  CHECK(OpenLocalSession(none).status().code() == Code::kUnauthenticated);
}

}  // namespace
}  // namespace gpupool::client
