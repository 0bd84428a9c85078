// A pod's CUDA program bound to several GPUs of one server, as a pod runs it: the real libcuda.so.1
// finds its server in the binding the downward API wrote (GPUPOOL_POD_INFO), and its one session sees
// every GPU the binding names there, in the binding's order, each with its own memory share.
#include <catch2/catch.hpp>
#include <fstream>

#include "common/binding/binding.h"
#include "tests/cli/cli_runner.h"
#include "tests/remoting/server/control_client.h"

namespace gpupool::testing {

#ifdef GPUPOOL_DEVICE_QUERY
namespace {

// The line the downward API writes for an annotation: key="value", quoted as Go's strconv.Quote.
std::string AnnotationLine(const std::string& key, const std::string& value) {
  std::string quoted;
  for (char c : value) quoted += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return key + "=\"" + quoted + "\"\n";
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

TEST_CASE("a pod's program bound to two GPUs of a server sees both, in its binding's order", "[run]") {
  auto server = Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--emulated-gpus",
                                   "3", "--emulated-memory", "8GiB", "--listen", "127.0.0.1:0",
                                   "--control-listen", "127.0.0.1:0", "--allow-unauthenticated"});
  REQUIRE(server.ok());
  auto control_line = server->WaitForLine("control on ", kCliTimeout);
  REQUIRE(control_line.ok());
  const std::string control = Trimmed(control_line->substr(control_line->find("control on ") + 11));
  auto line = server->WaitForLine("listening on 127.0.0.1:", kCliTimeout);
  REQUIRE(line.ok());
  const std::string address = Trimmed(line->substr(line->find("127.0.0.1:")));

  auto stub = ControlStub(control);
  control::v1::Inventory inventory;
  REQUIRE(stub->GetInventory(ControlContext().get(), {}, &inventory).ok());
  REQUIRE(inventory.gpus_size() == 3);
  Binding binding;
  binding.pool = "default";
  binding.gpus = {GpuBinding{address, inventory.gpus(2).uuid(), 50, 2ull << 30},
                  GpuBinding{address, inventory.gpus(0).uuid(), 25, 1ull << 30}};
  control::v1::AdmitRequest admit = AdmitRequest("uid-2gpu", binding.gpus[0].uuid, 50, 2ull << 30);
  auto* share = admit.add_shares();
  share->set_gpu_uuid(binding.gpus[1].uuid);
  share->set_percent(25);
  share->set_memory_bytes(1ull << 30);
  control::v1::AdmitResponse admitted;
  REQUIRE(stub->Admit(ControlContext().get(), admit, &admitted).ok());

  TempDir dir;
  std::ofstream(dir.File("annotations"))
      << AnnotationLine("gpupool.io/pool", "default")
      << AnnotationLine(std::string(kBindingAnnotation), BindingToJson(binding));
  SubprocessOptions options;
  options.env = {{"LD_LIBRARY_PATH", LibDir()},
                 {std::string(kPodInfoEnv), dir.File("annotations")},
                 {std::string(kPodUidEnv), "uid-2gpu"}};
  options.unset_env = {"GPUPOOL_SERVER"};
  auto program = Subprocess::Start({GPUPOOL_DEVICE_QUERY}, options);
  REQUIRE(program.ok());
  auto exit_code = program->Wait(kCliTimeout);
  INFO(program->output());
  REQUIRE(exit_code.ok());
  CHECK(*exit_code == 0);
  const std::string& out = program->output();
  CHECK(out.find("2 device(s)") != std::string::npos);
  const auto device0 = out.find("Device 0:"), device1 = out.find("Device 1:");
  REQUIRE(device0 != std::string::npos);
  REQUIRE(device1 != std::string::npos);
  CHECK(out.find("UUID                    " + binding.gpus[0].uuid, device0) < device1);
  CHECK(out.find("global memory           2.0 GiB", device0) < device1);
  CHECK(out.find("UUID                    " + binding.gpus[1].uuid, device1) != std::string::npos);
  CHECK(out.find("global memory           1.0 GiB", device1) != std::string::npos);
  CHECK(out.find("free of 2.0 GiB") != std::string::npos);  // device 0's share
  CHECK(out.find("data intact") != std::string::npos);
  CHECK(out.find("spans servers") == std::string::npos);  // no warning: the binding is one server's
}
#endif

}  // namespace gpupool::testing
