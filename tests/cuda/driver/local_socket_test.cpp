// A pod on the GPU's own node: driver-API programs run with a binding that names the server by its TCP
// address and GPU UUID, and GPUPOOL_LOCAL_SOCKET naming the server's Unix socket, as the device plugin
// sets it (colocated_server.h). The client must take the socket, and its copy ring, only for the GPU
// that server serves; anything else goes to TCP without an error.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tests/remoting/client/colocated_server.h"

namespace gpupool {
namespace {

using client::testing::ColocatedServer;
using testing::Subprocess;
using testing::SubprocessOptions;
constexpr auto kLogWait = std::chrono::seconds(30);

// Runs a driver test program as a pod bound to `uuid` would, and checks it passed; returns its output.
// `args`: the program's arguments.
std::string RunPod(const ColocatedServer& server, const std::string& program, const std::string& uuid,
                   const std::string& local_socket, const std::string& copy_ring = "",
                   const std::vector<std::string>& args = {}) {
  SubprocessOptions options;
  options.env = server.PodEnv(uuid, local_socket);
  options.env["LD_LIBRARY_PATH"] = GPUPOOL_CLIENT_DIR;
  if (!copy_ring.empty()) options.env["GPUPOOL_COPY_RING"] = copy_ring;
  options.unset_env = {"GPUPOOL_SERVER"};
  std::vector<std::string> argv = {std::string(GPUPOOL_PROGRAM_DIR) + "/" + program};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = Subprocess::Start(argv, options);
  REQUIRE(child.ok());
  auto code = child->Wait(std::chrono::seconds(600));
  INFO(child->output());
  REQUIRE(code.ok());
  CHECK(*code == 0);
  CHECK(child->output().find("PASS " + program + "\n") != std::string::npos);
  CHECK(child->output().find("ERROR") == std::string::npos);  // a fallback is no error
  return child->output();
}

// The worker logs its session's end after the program exits; a ring would have been logged by then.
void ExpectNoRing(ColocatedServer& server) {
  REQUIRE(server.process->WaitForLine("session ended", kLogWait).ok());
  CHECK(server.process->output().find("copy ring shared") == std::string::npos);
}

TEST_CASE("bound GPU served on this node: the copies go through the Unix socket's copy ring") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string gpu = server.Gpu();
  const std::string out = RunPod(server, "driver_copies", gpu, server.socket);
  CHECK(out.find(gpu + ": local server at " + server.socket + " (copy ring)") != std::string::npos);
  CHECK(server.process->WaitForLine("copy ring shared with the client", kLogWait).ok());
}

TEST_CASE("bound GPU served on this node with GPUPOOL_COPY_RING=off: the socket, without the ring") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string gpu = server.Gpu();
  REQUIRE(server.process->WaitForLine("session ended", kLogWait).ok());  // Gpu()'s own session
  const std::string out = RunPod(server, "driver_streams", gpu, server.socket, "off");
  CHECK(out.find(gpu + ": local server at " + server.socket + " (no copy ring)") != std::string::npos);
  ExpectNoRing(server);
}

// Beside the copy ring the pod gets the mapped arena: its pinned memory is the GPU's
// (driver_mapped_host's checks run); through TCP the same program finds the device cannot map.
TEST_CASE("bound GPU served on this node: pinned memory mapped for the GPU, not over TCP") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string gpu = server.Gpu();
  const std::vector<std::string> kernels = {std::string(GPUPOOL_PROGRAM_DIR) + "/driver_kernels.fatbin"};
  const std::string local = RunPod(server, "driver_mapped_host", gpu, server.socket, "", kernels);
  CHECK(local.find("mapped host memory: 1\n") != std::string::npos);
  CHECK(server.process->WaitForLine("mapped arena shared with the client", kLogWait).ok());
  const std::string remote =
      RunPod(server, "driver_mapped_host", gpu, server.dir.File("absent.sock"), "", kernels);
  CHECK(remote.find("mapped host memory: 0\n") != std::string::npos);
}

TEST_CASE("binding names a GPU the local server does not serve: TCP") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string other = "GPU-00000000-1111-2222-3333-444444444444";
  const std::string out = RunPod(server, "driver_streams", other, server.socket);
  CHECK(out.find(other + ": " + server.tcp + " (not the local socket") != std::string::npos);
  CHECK(server.process->WaitForLine("from 127.0.0.1:", kLogWait).ok());
  CHECK(server.process->output().find("copy ring shared") == std::string::npos);
}

TEST_CASE("local socket path missing or not a socket: TCP, no error") {
  ColocatedServer server(GPUPOOL_SERVER_BINARY);
  const std::string gpu = server.Gpu();
  for (const std::string& path : {server.dir.File("absent.sock"), server.token_file}) {
    const std::string out = RunPod(server, "driver_streams", gpu, path);
    CHECK(out.find(gpu + ": " + server.tcp + " (not the local socket " + path + ": " + path +
                   " is not a socket)") != std::string::npos);
    CHECK(server.process->WaitForLine("from 127.0.0.1:", kLogWait).ok());
  }
  CHECK(server.process->output().find("copy ring shared") == std::string::npos);
}

}  // namespace
}  // namespace gpupool
