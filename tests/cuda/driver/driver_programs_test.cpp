// Runs the driver-API test programs through gpupool: a real gpupool-server with the emulated device
// on a Unix socket (recording launches), each program with gpupool's libcuda.so.1 first on
// LD_LIBRARY_PATH. Each must print "PASS <name>" and exit 0.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace gpupool {
namespace {

using testing::Subprocess;
using testing::SubprocessOptions;
using testing::TempDir;

struct Server {
  TempDir dir;
  std::string address = "unix:" + dir.File("server.sock");
  std::string launches = dir.File("launches.jsonl");
  Result<Subprocess> process;

  // `extra`: more gpupool-server flags.
  explicit Server(const std::vector<std::string>& extra = {}) : process(Start(extra)) {
    REQUIRE(process.ok());
    auto ready = process->WaitForLine("listening on", std::chrono::seconds(30));
    INFO(process->output());
    REQUIRE(ready.ok());
  }

  Result<Subprocess> Start(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv = {GPUPOOL_SERVER_BINARY, "--device", "emulated", "--listen", address,
                                     "--record-launches",   launches};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Subprocess::Start(argv);
  }

  // `env`: more environment for the program (GPUPOOL_COPY_RING, ...).
  Result<Subprocess> Run(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {}) const {
    SubprocessOptions options;
    options.env = env;
    options.env["LD_LIBRARY_PATH"] = GPUPOOL_CLIENT_DIR;
    options.env["GPUPOOL_SERVER"] = address;
    std::vector<std::string> full = argv;
    full[0] = std::string(GPUPOOL_PROGRAM_DIR) + "/" + argv[0];
    return Subprocess::Start(full, options);
  }
};

// Runs a program through `server`, which must exit 0 and print its PASS line; returns its output.
std::string ExpectPassWith(const Server& server, const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env, int timeout_s = 600) {
  auto child = server.Run(argv, env);
  REQUIRE(child.ok());
  auto code = child->Wait(std::chrono::seconds(timeout_s));
  INFO(child->output());
  REQUIRE(code.ok());
  CHECK(*code == 0);
  CHECK(child->output().find("PASS " + argv[0] + "\n") != std::string::npos);
  return child->output();
}

std::string ExpectPass(const Server& server, const std::vector<std::string>& argv, int timeout_s = 600,
                       const std::string& copy_ring = "") {
  std::map<std::string, std::string> env;
  if (!copy_ring.empty()) env["GPUPOOL_COPY_RING"] = copy_ring;
  return ExpectPassWith(server, argv, env, timeout_s);
}

// On one host the client and the worker share a copy ring (protocol/copy_ring.h) and the bytes go
// through it; with GPUPOOL_COPY_RING=off they go through the socket. Both must give the same bytes.
TEST_CASE("copies: random data round trips, every kind, 1 B to 256 MiB, unaligned, and memsets") {
  Server server;
  ExpectPass(server, {"driver_copies"});
  CHECK(server.process->WaitForLine("copy ring shared with the client", std::chrono::seconds(30)).ok());
}

TEST_CASE("copies over the socket: the same round trips with GPUPOOL_COPY_RING=off") {
  Server server;
  ExpectPass(server, {"driver_copies"}, 600, "off");
  // The worker logs its session's end after the program exits; by then a ring would have been logged.
  REQUIRE(server.process->WaitForLine("session ended", std::chrono::seconds(30)).ok());
  CHECK(server.process->output().find("copy ring shared") == std::string::npos);
}

TEST_CASE("arrays: the 1D array copies at offsets, past the end refused") {
  Server server;
  ExpectPass(server, {"driver_arrays"});
}

TEST_CASE("logs: a refused call and an asynchronous error in the driver log's callback and dumps") {
  Server server;
  ExpectPass(server, {"driver_logs"});
}

TEST_CASE("batch_copies: 1D and 3D batches, attribute ranges, arrays, capture, bad batches copy nothing") {
  Server server;
  ExpectPass(server, {"driver_batch_copies"});
}

TEST_CASE("streams_events: event waits order streams, with queries, timing and priorities") {
  Server server;
  ExpectPass(server, {"driver_streams"});
}

TEST_CASE("errors: bad handles, pointers outside allocations, copies past the end, unsupported calls, fork") {
  Server server;
  // As with a server on another host: no mapped host memory (driver_mapped_host has it).
  auto child = server.Run({"driver_errors"}, {{"GPUPOOL_MAPPED_MEMORY", "off"}});
  REQUIRE(child.ok());
  auto code = child->Wait(std::chrono::seconds(600));
  INFO(child->output());
  REQUIRE(code.ok());
  CHECK(*code == 0);
  const std::string& output = child->output();
  CHECK(output.find("PASS driver_errors\n") != std::string::npos);
  // A refused call is named in the log, once however often it is made.
  CHECK(output.find("mapped host memory: 0") != std::string::npos);
  const std::string refused = "cuMemHostGetDevicePointer: only pinned memory";
  const std::size_t first = output.find(refused);
  CHECK(first != std::string::npos);
  CHECK(output.find(refused, first + 1) == std::string::npos);
}

TEST_CASE("coverage: modules from files, occupancy, stream context, peers, bank configuration, pool access") {
  Server server;
  ExpectPass(server, {"driver_coverage", std::string(GPUPOOL_PROGRAM_DIR) + "/driver_kernels.fatbin"});
}

// The program's "EXPECT <kernel> <grid> <block> <params hex>" lines, and what the server recorded.
void CheckRecordedLaunches(const Server& server, const std::string& output, std::size_t count) {
  std::vector<std::string> expected;
  std::istringstream out(output);
  for (std::string line; std::getline(out, line);) {
    if (line.rfind("EXPECT ", 0) == 0) expected.push_back(line.substr(7));
  }
  std::vector<std::string> recorded;
  std::ifstream file(server.launches);
  for (std::string line; std::getline(file, line);) {
    auto j = nlohmann::json::parse(line);
    auto dims = [](const nlohmann::json& a) {
      return std::to_string(a[0].get<unsigned>()) + "," + std::to_string(a[1].get<unsigned>()) + "," +
             std::to_string(a[2].get<unsigned>());
    };
    recorded.push_back(j["kernel"].get<std::string>() + " " + dims(j["grid"]) + " " + dims(j["block"]) + " " +
                       j["params"].get<std::string>());
  }
  CHECK(expected.size() == count);
  CHECK(recorded == expected);
}

TEST_CASE("launch: the server records exactly the parameter bytes the program packed") {
  Server server;
  const std::string output =
      ExpectPass(server, {"driver_launch", std::string(GPUPOOL_PROGRAM_DIR) + "/driver_kernels.fatbin"}, 120);
  CheckRecordedLaunches(server, output, 15);
}

TEST_CASE("link: relocatable device code joined at run time with cuLink, the linked kernel launched") {
  Server server;
  CheckRecordedLaunches(server, ExpectPass(server, {"driver_link", GPUPOOL_PROGRAM_DIR}, 300), 2);
}

// The overlap the program checks needs kernels that take time: the emulated device's simulated time.
// On this host the bytes wait in the deferred staging shared beside the copy ring; with
// GPUPOOL_COPY_RING=off they come on the socket.
TEST_CASE(
    "deferred_copies: an asynchronous copy to pinned memory returns at once, lands by every kind of wait") {
  for (const std::string ring : {"on", "off"}) {
    INFO("GPUPOOL_COPY_RING=" << ring);
    Server server({"--emulated-kernel-time", "300ms"});
    const std::string output = ExpectPass(
        server, {"driver_deferred_copies", std::string(GPUPOOL_PROGRAM_DIR) + "/driver_kernels.fatbin"}, 600,
        ring);
    CHECK(output.find("CPU polls while the kernel and the copy ran: some") != std::string::npos);
    CHECK(output.find("CPU polls while the kernel and the 2D copy ran: some") != std::string::npos);
    REQUIRE(server.process->WaitForLine("session ended", std::chrono::seconds(30)).ok());
    const bool staged = server.process->output().find("deferred staging shared") != std::string::npos;
    CHECK(staged == (ring == "on"));
  }
}

TEST_CASE("virtual_memory: reservations, physical allocations and mappings, data across mappings, misuse") {
  Server server;
  ExpectPass(server, {"driver_virtual_memory"});
  ExpectPass(server, {"driver_virtual_memory"}, 600, "off");  // the same bytes over the socket
}

TEST_CASE("managed: host and device views of managed memory, copies, kernels, threads, advice, prefetches") {
  Server server;
  const std::string kernels = std::string(GPUPOOL_PROGRAM_DIR) + "/driver_kernels.fatbin";
  ExpectPass(server, {"driver_managed", kernels});
  ExpectPass(server, {"driver_managed", kernels}, 600, "off");  // the same bytes over the socket
}

TEST_CASE("ipc: two processes share memory and an event through interprocess handles") {
  Server server;
  ExpectPass(server, {"driver_ipc"});
  ExpectPass(server, {"driver_ipc"}, 600, "off");  // the same bytes over the socket
}

TEST_CASE("multi_gpu: two devices, copies and event waits between them, peer access, a peer kernel") {
  Server server({"--emulated-gpus", "2"});
  const std::string out =
      ExpectPass(server, {"driver_multi_gpu", std::string(GPUPOOL_PROGRAM_DIR) + "/driver_kernels.fatbin"});
  CHECK(out.find("2 device(s)") != std::string::npos);
  CHECK(out.find("device 0 can access device 1: 1") != std::string::npos);
  // The kernel of device 0 that writes device 1's memory was launched (the emulated device records it).
  CHECK(out.find("peer kernel wrote") != std::string::npos);
  CheckRecordedLaunches(server, out, 1);
}

// A worker on this host shares a mapped arena with the program: its pinned memory is the GPU's too
// (the emulated device's copies and memsets use the program's pages; the kernel's launch is recorded).
// With GPUPOOL_MAPPED_MEMORY=off, as with a server on another host, the device pointer is refused.
TEST_CASE("mapped_host: pinned memory the GPU reaches through the program's pointers, within a limit") {
  Server server({"--session-mapped-memory", "8MiB"});
  const std::string kernels = std::string(GPUPOOL_PROGRAM_DIR) + "/driver_kernels.fatbin";
  const std::string out =
      ExpectPassWith(server, {"driver_mapped_host", kernels}, {{"GPUPOOL_TEST_MAPPED_LIMIT", "8388608"}});
  CHECK(out.find("mapped host memory: 1") != std::string::npos);
  CHECK(out.find("cuMemHostGetDevicePointer: only pinned memory") != std::string::npos);  // registered
  // Past the limit: said once, with the server's answer.
  CHECK(out.find("cuMemHostAlloc asked for mapped host memory") != std::string::npos);
  CHECK(out.find("(here: CUDA_ERROR_OUT_OF_MEMORY)") != std::string::npos);
  CheckRecordedLaunches(server, out, 1);
  const std::string off =
      ExpectPassWith(server, {"driver_mapped_host", kernels}, {{"GPUPOOL_MAPPED_MEMORY", "off"}});
  CHECK(off.find("mapped host memory: 0") != std::string::npos);
  CHECK(off.find("cuMemHostAlloc asked for mapped host memory") != std::string::npos);  // said once
}

TEST_CASE("server_loss: a server killed mid-call is a CUDA error within 5 s, not a hang") {
  Server server;
  auto child = server.Run({"driver_server_loss"});
  REQUIRE(child.ok());
  REQUIRE(child->WaitForLine("READY", std::chrono::seconds(60)).ok());
  const auto killed = std::chrono::steady_clock::now();
  ::kill(-server.process->pid(), SIGKILL);  // the broker and its session workers (one process group)
  auto code = child->Wait(std::chrono::seconds(30));
  const auto took = std::chrono::steady_clock::now() - killed;
  INFO(child->output());
  REQUIRE(code.ok());
  CHECK(*code == 0);
  CHECK(child->output().find("ERROR CUDA_ERROR_") != std::string::npos);
  CHECK(took < std::chrono::seconds(5));
  CHECK(child->output().find("LOG callback 1 dump 1\n") !=
        std::string::npos);  // logged once, in the driver log
}

}  // namespace
}  // namespace gpupool
