// `gpupool servers` as a user runs it: the real binary against fake GPU servers' Control API.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"
#include "tests/support/fake_control_server.h"

namespace gpupool::testing {
namespace {

// A server with `gpus` H200s, 16 GiB of each; GPU 0 has a 50 % / 4 GiB admission and 2 sessions.
void Populate(FakeControlServer& server, const std::string& tag, int gpus) {
  control::v1::Inventory inv;
  inv.set_server_id(tag);
  inv.set_version("0.1.0");
  inv.set_device_kind("cuda");
  for (int i = 0; i < gpus; ++i) *inv.add_gpus() = FakeControlServer::MakeGpu(tag, i, 16ULL << 30);
  inv.mutable_gpus(0)->set_sessions(2);
  server.SetInventory(inv);
  server.Start();
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  auto stub = control::v1::Control::NewStub(channel);
  control::v1::AdmitRequest admit;
  admit.set_pod_uid("pod-" + tag);
  auto* share = admit.add_shares();
  share->set_gpu_uuid("GPU-" + tag + "-0");
  share->set_percent(50);
  share->set_memory_bytes(4ULL << 30);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  control::v1::AdmitResponse response;
  REQUIRE(stub->Admit(&ctx, admit, &response).ok());
}

}  // namespace

TEST_CASE("servers: lists every GPU with its free share", "[servers]") {
  FakeControlServer a, b;
  Populate(a, "a", 2);
  Populate(b, "b", 1);
  const CliResult r = RunGpupool({"servers", "--control", a.address(), "--control", b.address()});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("SERVER"));
  CHECK_THAT(r.output, Catch::Contains("FREE MEMORY"));
  // GPU 0 of a: 16 GiB, 50 % admitted, 12 GiB free, 2 sessions, healthy.
  CHECK_THAT(r.output, Catch::Matches("(.|\n)*" + a.address() +
                                      " +0 +NVIDIA H200 +16 GiB +50% +50% +12 GiB +2 +ok\n(.|\n)*"));
  CHECK_THAT(r.output, Catch::Matches("(.|\n)*" + a.address() +
                                      " +1 +NVIDIA H200 +16 GiB +0% +100% +16 GiB +0 +ok\n(.|\n)*"));
  CHECK_THAT(r.output, Catch::Matches("(.|\n)*" + b.address() + " +0 +NVIDIA H200(.|\n)*"));
}

TEST_CASE("servers: --json carries the inventory for scripts", "[servers]") {
  FakeControlServer a;
  Populate(a, "a", 1);
  const CliResult r = RunGpupool({"servers", "--json", "--control", a.address()}, {}, /*merge_stderr=*/false);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output);
  REQUIRE(j["servers"].size() == 1);
  const auto& s = j["servers"][0];
  CHECK(s["reachable"] == true);
  CHECK(s["serverId"] == "a");
  CHECK(s["deviceKind"] == "cuda");
  REQUIRE(s["gpus"].size() == 1);
  const auto& gpu = s["gpus"][0];
  CHECK(gpu["uuid"] == "GPU-a-0");
  CHECK(gpu["memoryBytes"] == 16ULL << 30);
  CHECK(gpu["allocatedPercent"] == 50);
  CHECK(gpu["freePercent"] == 50);
  CHECK(gpu["freeMemoryBytes"] == 12ULL << 30);
  CHECK(gpu["computeCapability"] == "9.0");
  CHECK(gpu["healthy"] == true);
}

TEST_CASE("servers: an unreachable server exits 1 and the others are still listed", "[servers]") {
  FakeControlServer up, down;
  Populate(up, "up", 1);
  Populate(down, "down", 1);
  down.Stop();
  const CliResult r = RunGpupool({"servers", "--control", up.address(), "--control", down.address()});
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains(up.address() + "  0"));
  CHECK_THAT(r.output, Catch::Matches("(.|\n)*" + down.address() + "[ -]+unreachable\n(.|\n)*"));
  CHECK_THAT(r.output, Catch::Contains("gpupool servers: " + down.address() + ": unreachable"));

  const CliResult j =
      RunGpupool({"servers", "--json", "--control", up.address(), "--control", down.address()}, {},
                 /*merge_stderr=*/false);
  CHECK(j.exit_code == 1);
  const auto doc = nlohmann::json::parse(j.output);
  CHECK(doc["servers"][0]["reachable"] == true);
  CHECK(doc["servers"][1]["reachable"] == false);
  CHECK_THAT(doc["servers"][1]["error"].get<std::string>(), Catch::Contains("unreachable"));
}

TEST_CASE("servers: servers are named by data address, from flags or GPUPOOL_SERVERS", "[servers]") {
  FakeControlServer a;
  Populate(a, "a", 1);
  // The fake serves Control on P; a server whose data port is P-1 has its Control API there.
  const std::string control = a.address();
  const int port = std::stoi(control.substr(control.rfind(':') + 1));
  const std::string data = "127.0.0.1:" + std::to_string(port - 1);

  const CliResult flag = RunGpupool({"servers", "--server", data});
  CHECK(flag.exit_code == 0);
  CHECK_THAT(flag.output, Catch::Contains(data + "  0"));

  const CliResult env = RunGpupool({"servers"}, {{"GPUPOOL_SERVERS", data}});
  CHECK(env.exit_code == 0);
  CHECK_THAT(env.output, Catch::Contains(data + "  0"));

  const CliResult wide = RunGpupool({"servers", "--wide", "--server", data});
  CHECK_THAT(wide.output, Catch::Contains("GPU-a-0  cuda  9.0  132"));
}

TEST_CASE("servers and top: bad usage exits 2 with a message naming the input", "[servers][top]") {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"servers", "--server", "gpu-01:notaport"}, {}, "address \"gpu-01:notaport\" has an invalid port"},
      {{"servers", "--server", "gpu-01:0"}, {}, "address \"gpu-01:0\" has an invalid port"},
      {{"servers", "--server"}, {}, "--server needs a value"},
      {{"servers", "--timeout", "soon"}, {}, "--timeout: duration \"soon\""},
      {{"servers", "--bogus"}, {}, "unknown flag \"--bogus\""},
      {{"servers"}, {{"GPUPOOL_SERVERS", "gpu-01:7470,[::1"}}, "GPUPOOL_SERVERS: address \"[::1\""},
      {{"top", "--interval", "10ms"}, {}, "--interval must be at least 100ms"},
      {{"top", "--interval", "2"}, {}, "--interval: duration \"2\" needs a unit"},
      {{"top", "--count", "0"}, {}, "--count \"0\" is not a whole number of at least 1"},
      {{"top", "--count", "-3"}, {}, "--count \"-3\""},
      {{"top", "--wide"}, {}, "unknown flag \"--wide\""},
      {{"top", "--once", "--count", "2"}, {}, "--once and --count are exclusive"},
      {{"frobnicate"}, {}, "unknown command \"frobnicate\""},
  };
  for (const Case& c : cases) {
    const CliResult r = RunGpupool(c.args, c.env);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(c.message));
  }
}

TEST_CASE("servers and top: --help describes the flags and exits 0", "[servers][top]") {
  for (const std::string command : {"servers", "top"}) {
    const CliResult r = RunGpupool({command, "--help"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::StartsWith("usage: gpupool " + command));
    CHECK_THAT(r.output, Catch::Contains("--server HOST[:PORT]"));
    CHECK_THAT(r.output, Catch::Contains("exit status:"));
  }
}

}  // namespace gpupool::testing
