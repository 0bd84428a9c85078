#include "remoting/client/server_address.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <map>

#include "tests/support/process.h"

namespace gpupool::client {
namespace {

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const char* name) {
    auto it = values.find(name);
    return it == values.end() ? std::string() : it->second;
  };
}

TEST_CASE("GPUPOOL_SERVER names the server, the token file is read and trimmed") {
  testing::TempDir dir;
  std::ofstream(dir.File("token")) << "secret-token\n";
  auto tcp = FindServer(Env({{"GPUPOOL_SERVER", "gpu-01:7470"}, {"GPUPOOL_TOKEN_FILE", dir.File("token")}}));
  REQUIRE(tcp.ok());
  CHECK(tcp->endpoint.ToString() == "gpu-01:7470");
  CHECK(tcp->token == "secret-token");
  auto unix_socket = FindServer(Env({{"GPUPOOL_SERVER", "unix:/run/g.sock"}}));
  REQUIRE(unix_socket.ok());
  CHECK(unix_socket->endpoint.kind == Endpoint::Kind::kUnix);
  CHECK(unix_socket->token.empty());
}

TEST_CASE("without GPUPOOL_SERVER the pod binding names the server") {
  testing::TempDir dir;
  std::ofstream(dir.File("annotations"))
      << "gpupool.io/"
         "binding=\"{\\\"pool\\\":\\\"default\\\",\\\"gpus\\\":[{\\\"server\\\":\\\"10.0.0.5:7470\\\","
         "\\\"uuid\\\":\\\"GPU-1\\\",\\\"percent\\\":50,\\\"memoryBytes\\\":1024}]}\"\n";
  auto found = FindServer(Env({{"GPUPOOL_POD_INFO", dir.File("annotations")}}));
  INFO(found.status().ToString());
  REQUIRE(found.ok());
  CHECK(found->endpoint.ToString() == "10.0.0.5:7470");
  CHECK(found->gpu_uuid == "GPU-1");
  CHECK(found->local_socket.empty());
}

TEST_CASE("a binding of several GPUs names its first GPU's server, also when it spans servers") {
  testing::TempDir dir;
  const std::string gpu = R"({\"server\":\"%s\",\"uuid\":\"%s\",\"percent\":50,\"memoryBytes\":1024})";
  auto entry = [&gpu](const char* server, const char* uuid) {
    std::string e = gpu;
    e.replace(e.find("%s"), 2, server);
    e.replace(e.find("%s"), 2, uuid);
    return e;
  };
  for (const char* second_server : {"10.0.0.5:7470", "10.0.0.6:7470"}) {
    INFO(second_server);
    std::ofstream(dir.File("annotations"), std::ios::trunc)
        << R"(gpupool.io/binding="{\"pool\":\"default\",\"gpus\":[)" << entry("10.0.0.5:7470", "GPU-1") << ","
        << entry(second_server, "GPU-2") << "]}\"\n";
    auto found = FindServer(Env({{"GPUPOOL_POD_INFO", dir.File("annotations")}}));
    INFO(found.status().ToString());
    REQUIRE(found.ok());
    CHECK(found->endpoint.ToString() == "10.0.0.5:7470");
    CHECK(found->gpu_uuid == "GPU-1");
  }
}

TEST_CASE("GPUPOOL_LOCAL_SOCKET is offered with a binding only, whose GPU decides whether it is used") {
  testing::TempDir dir;
  std::ofstream(dir.File("annotations"))
      << "gpupool.io/"
         "binding=\"{\\\"pool\\\":\\\"default\\\",\\\"gpus\\\":[{\\\"server\\\":\\\"10.0.0.5:7470\\\","
         "\\\"uuid\\\":\\\"GPU-1\\\",\\\"percent\\\":50,\\\"memoryBytes\\\":1024}]}\"\n";
  auto bound = FindServer(
      Env({{"GPUPOOL_POD_INFO", dir.File("annotations")}, {"GPUPOOL_LOCAL_SOCKET", "/run/gpupool/s.sock"}}));
  REQUIRE(bound.ok());
  CHECK(bound->endpoint.ToString() == "10.0.0.5:7470");  // still the fallback
  CHECK(bound->local_socket == "/run/gpupool/s.sock");
  CHECK(bound->gpu_uuid == "GPU-1");
  // An explicit GPUPOOL_SERVER names no GPU to check the local server against: it is used as given.
  auto named =
      FindServer(Env({{"GPUPOOL_SERVER", "gpu-01:7470"}, {"GPUPOOL_LOCAL_SOCKET", "/run/gpupool/s.sock"}}));
  REQUIRE(named.ok());
  CHECK(named->local_socket.empty());
  CHECK(named->gpu_uuid.empty());
}

TEST_CASE("the pod token file is read for every lookup, so a rotated token is sent") {
  testing::TempDir dir;
  const auto env = Env({{"GPUPOOL_SERVER", "gpu-01:7470"}, {"GPUPOOL_POD_TOKEN_FILE", dir.File("token")}});
  std::ofstream(dir.File("token")) << "eyJ.first.sig\n";
  auto first = FindServer(env);
  REQUIRE(first.ok());
  CHECK(first->pod_token == "eyJ.first.sig");
  CHECK(first->token.empty());  // the shared token is another thing
  std::ofstream(dir.File("token"), std::ios::trunc) << "eyJ.second.sig";
  CHECK(FindServer(env)->pod_token == "eyJ.second.sig");
  CHECK(FindServer(Env({{"GPUPOOL_SERVER", "gpu-01:7470"}}))->pod_token.empty());

  std::ofstream(dir.File("token"), std::ios::trunc) << "\n";
  auto empty = FindServer(env);
  CHECK(empty.status().code() == Code::kInvalidArgument);
  CHECK_THAT(empty.status().message(),
             Catch::Contains("GPUPOOL_POD_TOKEN_FILE") && Catch::Contains("is empty"));
  auto absent =
      FindServer(Env({{"GPUPOOL_SERVER", "gpu-01:7470"}, {"GPUPOOL_POD_TOKEN_FILE", dir.File("absent")}}));
  CHECK_THAT(absent.status().message(), Catch::Contains("GPUPOOL_POD_TOKEN_FILE"));
}

TEST_CASE("missing or malformed configuration is a clear error") {
  testing::TempDir dir;
  CHECK(FindServer(Env({})).status().code() == Code::kNotFound);
  CHECK(FindServer(Env({{"GPUPOOL_SERVER", "gpu-01:http"}})).status().code() == Code::kInvalidArgument);
  CHECK_FALSE(FindServer(Env({{"GPUPOOL_POD_INFO", dir.File("absent")}})).ok());
  CHECK_FALSE(
      FindServer(Env({{"GPUPOOL_SERVER", "gpu:1"}, {"GPUPOOL_TOKEN_FILE", dir.File("absent")}})).ok());
}

}  // namespace
}  // namespace gpupool::client
