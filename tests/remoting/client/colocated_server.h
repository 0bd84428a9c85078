// A gpupool-server on "this node": the real binary with the emulated device, listening on loopback TCP
// and on a Unix socket (--unix), checking a shared token on both; and the files a pod on its node
// would have: its token, and a downward-API annotations file whose binding names the server by its
// TCP address and a GPU UUID. Used by the client's tests of the local-socket path
// (local_server_test.cpp, tests/cuda/driver/local_socket_test.cpp).
//
// Thread-safety: one test thread.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <tuple>

#include "common/gpu_uuid.h"
#include "remoting/client/rpc.h"
#include "remoting/client/server_address.h"
#include "remoting/client/session.h"
#include "tests/support/process.h"

namespace gpupool::client::testing {

struct ColocatedServer {
  gpupool::testing::TempDir dir;
  std::string socket = dir.File("server.sock");
  std::string token_file = dir.File("token");
  std::string tcp;  // "127.0.0.1:PORT", the address a binding names
  Result<gpupool::testing::Subprocess> process = Status::Internal("not started");

  explicit ColocatedServer(const std::string& server_binary) {
    std::ofstream(token_file) << "node-token\n";
    process = gpupool::testing::Subprocess::Start({server_binary, "--device", "emulated", "--listen",
                                                   "127.0.0.1:0", "--unix", socket, "--unix-gpu-list",
                                                   "--token-file", token_file});
    REQUIRE(process.ok());
    auto line = process->WaitForLine("device; listening on ", std::chrono::seconds(30));
    INFO(process->output());
    REQUIRE(line.ok());
    tcp = line->substr(line->find("listening on ") + 13);
    while (!tcp.empty() && (tcp.back() == '\n' || tcp.back() == '\r')) tcp.pop_back();
    // Its GPU list next to the socket (common/local_gpu_list.h): tests start from a published one.
    REQUIRE(process->WaitForLine("GPUs in " + socket + ".gpus", std::chrono::seconds(60)).ok());
  }

  // What FindServer would return for a pod bound to GPU `uuid` of this server, offered `local_socket`.
  ServerAddress Bound(const std::string& uuid, const std::string& local_socket) const {
    ServerAddress a;
    a.endpoint = *ParseEndpoint(tcp);
    a.token = "node-token";
    a.gpu_uuid = uuid;
    a.local_socket = local_socket;
    return a;
  }

  // The UUID of the GPU the server shows a session (its first), asked over the Unix socket before a
  // copy ring is set up, so that the server's log shows a ring only for the sessions a test runs.
  std::string Gpu() const {
    ServerAddress a = Bound("", "");
    a.endpoint = Endpoint{Endpoint::Kind::kUnix, "", 0, socket};
    std::string gpu;
    auto session = Session::Open(a, [&gpu](Session& s) {
      protocol::Call<protocol::Op::DeviceGetUuid>::Reply uuid;
      if (RpcOn<protocol::Op::DeviceGetUuid>(&s, 0, {0}, &uuid) != CUDA_SUCCESS)
        return Status::Internal("no UUID");
      gpu = FormatGpuUuid(std::get<0>(uuid));
      return Status::Cancelled("asked");  // ends the session here
    });
    REQUIRE(session.status().code() == Code::kCancelled);
    REQUIRE(!gpu.empty());
    return gpu;
  }

  // The environment of a program in a pod on this node bound to GPU `uuid` of this server:
  // GPUPOOL_POD_INFO (a binding naming the TCP address), the token, GPUPOOL_LOCAL_SOCKET.
  std::map<std::string, std::string> PodEnv(const std::string& uuid, const std::string& local_socket) const {
    const std::string annotations = dir.File("annotations-" + std::to_string(++files_));
    std::ofstream(annotations)
        << "gpupool.io/binding=\"{\\\"pool\\\":\\\"default\\\",\\\"gpus\\\":[{\\\"server\\\":\\\"" << tcp
        << "\\\",\\\"uuid\\\":\\\"" << uuid
        << "\\\",\\\"percent\\\":100,\\\"memoryBytes\\\":1073741824}]}\"\n";
    return {{"GPUPOOL_POD_INFO", annotations},
            {"GPUPOOL_TOKEN_FILE", token_file},
            {"GPUPOOL_LOCAL_SOCKET", local_socket},
            {"GPUPOOL_LOG_LEVEL", "debug"}};
  }

 private:
  mutable int files_ = 0;
};

}  // namespace gpupool::client::testing
