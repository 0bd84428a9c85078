// A pod admitted on several GPUs of one server: its session sees exactly those GPUs, in the order of
// its admission, each held to its own memory share and counted on its own (memory, kernels, copies)
// in ListSessions and /metrics.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "gpupool/control/v1/control.grpc.pb.h"
#include "remoting/server/gpu_identity.h"
#include "tests/remoting/server/control_client.h"
#include "tests/remoting/server/spin_kernel.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
namespace cv1 = control::v1;

constexpr std::uint64_t kMiB = 1ull << 20;

std::string UuidOf(TestClient& c, int device) {
  auto uuid = c.Call<Op::DeviceGetUuid>({device});
  REQUIRE(uuid.result == CUDA_SUCCESS);
  REQUIRE(std::get<0>(uuid.fields).size() == sizeof(CUuuid));
  CUuuid seen{};
  std::memcpy(seen.bytes, std::get<0>(uuid.fields).data(), sizeof seen.bytes);
  return server::FormatGpuUuid(seen);
}

TEST_CASE("a pod admitted on two GPUs of a server sees both, each with its own share") {
  ServerProcess server =
      ServerProcess::Start({"--emulated-gpus", "3", "--emulated-memory", "1GiB", "--control-listen",
                            "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"});
  auto stub = ControlStub(server.control);
  cv1::Inventory inventory;
  REQUIRE(stub->GetInventory(ControlContext().get(), {}, &inventory).ok());
  REQUIRE(inventory.gpus_size() == 3);
  const std::string first = inventory.gpus(2).uuid(), second = inventory.gpus(0).uuid();

  // The binding's order, not the server's: the session's device 0 is the server's GPU 2.
  cv1::AdmitRequest admit = AdmitRequest("pod-2gpu", first, 50, 64 * kMiB);
  auto* share = admit.add_shares();
  share->set_gpu_uuid(second);
  share->set_percent(25);
  share->set_memory_bytes(32 * kMiB);
  cv1::AdmitResponse admitted;
  REQUIRE(stub->Admit(ControlContext().get(), admit, &admitted).ok());

  TestClient pod = TestClient::Open(server.endpoint, "pod-2gpu");
  auto count = pod.Call<Op::DeviceGetCount>({});
  REQUIRE(count.result == CUDA_SUCCESS);
  CHECK(std::get<0>(count.fields) == 2);
  CHECK(UuidOf(pod, 0) == first);
  CHECK(UuidOf(pod, 1) == second);
  CHECK(std::get<0>(pod.Call<Op::DeviceTotalMem>({0}).fields) == 64 * kMiB);
  CHECK(std::get<0>(pod.Call<Op::DeviceTotalMem>({1}).fields) == 32 * kMiB);

  // Each device's allocations count against its own share only.
  pod.UseDevice(1);
  auto info = pod.Call<Op::MemGetInfo>({});
  REQUIRE(info.result == CUDA_SUCCESS);
  CHECK(std::get<1>(info.fields) == 32 * kMiB);
  CHECK(pod.Result<Op::MemAlloc>({40 * kMiB}) == CUDA_ERROR_OUT_OF_MEMORY);
  auto on_second = pod.Call<Op::MemAlloc>({30 * kMiB});
  REQUIRE(on_second.result == CUDA_SUCCESS);
  CHECK(std::get<0>(pod.Call<Op::MemGetInfo>({}).fields) <= 2 * kMiB);
  // Copies are counted on the device whose context issued them.
  REQUIRE(pod.Result<Op::MemcpyHtoD>({std::get<0>(on_second.fields)}, Pattern(5000, 3)) == CUDA_SUCCESS);
  REQUIRE(pod.Call<Op::MemcpyDtoH>({std::get<0>(on_second.fields), 3000}).result == CUDA_SUCCESS);
  pod.UseDevice(0);
  REQUIRE(pod.Result<Op::MemAlloc>({40 * kMiB}) == CUDA_SUCCESS);  // device 1's use does not count here
  CHECK(pod.Result<Op::MemAlloc>({30 * kMiB}) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(std::get<1>(pod.Call<Op::MemGetInfo>({}).fields) == 64 * kMiB);

  // Kernels are counted on the device they ran on.
  const std::uint64_t spin = LoadSpin(pod);  // device 0
  Launch(pod, spin);
  Launch(pod, spin);
  REQUIRE(pod.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);

  cv1::ListSessionsResponse sessions;
  REQUIRE(stub->ListSessions(ControlContext().get(), {}, &sessions).ok());
  REQUIRE(sessions.sessions_size() == 1);
  const cv1::Session& s = sessions.sessions(0);
  REQUIRE(s.gpus_size() == 2);
  CHECK(s.gpus(0).gpu_uuid() == first);
  CHECK(s.gpus(0).percent() == 50);
  CHECK(s.gpus(0).memory_limit_bytes() == 64 * kMiB);
  CHECK(s.gpus(0).memory_used_bytes() == 40 * kMiB);
  CHECK(s.gpus(0).kernels_launched() == 2);
  CHECK(s.gpus(1).gpu_uuid() == second);
  CHECK(s.gpus(1).percent() == 25);
  CHECK(s.gpus(1).memory_limit_bytes() == 32 * kMiB);
  CHECK(s.gpus(1).memory_used_bytes() == 30 * kMiB);
  CHECK(s.gpus(1).kernels_launched() == 0);
  CHECK(s.gpus(0).bytes_to_device() == 0);
  CHECK(s.gpus(1).bytes_to_device() == 5000);
  CHECK(s.gpus(1).bytes_from_device() == 3000);
  // The session as a whole: its first GPU, and sums.
  CHECK(s.gpu_uuid() == first);
  CHECK(s.percent() == 50);
  CHECK(s.memory_used_bytes() == 70 * kMiB);
  CHECK(s.memory_limit_bytes() == 96 * kMiB);
  CHECK(s.kernels_launched() == 2);
  CHECK(s.bytes_to_device() == 5000);

  REQUIRE(stub->GetInventory(ControlContext().get(), {}, &inventory).ok());
  CHECK(inventory.gpus(0).sessions() == 1);
  CHECK(inventory.gpus(1).sessions() == 0);
  CHECK(inventory.gpus(2).sessions() == 1);

  const std::string page = HttpGet(server.metrics, "/metrics");
  const std::string session =
      ",namespace=\"ns\",pod=\"pod-pod-2gpu\",session=\"" + std::to_string(pod.session_id()) + "\"}";
  CHECK(HasLine(page, "gpupool_session_memory_limit_bytes{gpu=\"" + first + "\"" + session + " 67108864"));
  CHECK(HasLine(page, "gpupool_session_memory_limit_bytes{gpu=\"" + second + "\"" + session + " 33554432"));
  CHECK(HasLine(page, "gpupool_session_percent{gpu=\"" + second + "\"" + session + " 25"));
  CHECK(HasLine(page, "gpupool_session_kernels_total{gpu=\"" + first + "\"" + session + " 2"));
  CHECK(HasLine(page, "gpupool_session_kernels_total{gpu=\"" + second + "\"" + session + " 0"));
  CHECK(HasLine(page, "gpupool_gpu_memory_used_bytes{gpu=\"" + second + "\"} 31457280"));
  CHECK(HasLine(page, "gpupool_session_bytes_total{gpu=\"" + second + "\"" +
                          session.substr(0, session.size() - 1) + ",direction=\"to_device\"} 5000"));
  CHECK(HasLine(page, "gpupool_bytes_transferred_total{gpu=\"" + first + "\",direction=\"to_device\"} 0"));
  CHECK(HasLine(page, "gpupool_sessions{gpu=\"" + inventory.gpus(1).uuid() + "\"} 0"));
}

TEST_CASE("a session of no pod sees every GPU, --session-memory the limit of each") {
  ServerProcess server = ServerProcess::Start({"--emulated-gpus", "2", "--session-memory", "64MiB"});
  TestClient c = TestClient::Open(server.endpoint);
  CHECK(std::get<0>(c.Call<Op::DeviceGetCount>({}).fields) == 2);
  CHECK(std::get<0>(c.Call<Op::DeviceTotalMem>({1}).fields) == 64 * kMiB);
  c.UseDevice(0);
  REQUIRE(c.Result<Op::MemAlloc>({40 * kMiB}) == CUDA_SUCCESS);
  c.UseDevice(1);
  REQUIRE(c.Result<Op::MemAlloc>({40 * kMiB}) == CUDA_SUCCESS);  // device 0's use does not count here
  CHECK(c.Result<Op::MemAlloc>({30 * kMiB}) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(std::get<1>(c.Call<Op::MemGetInfo>({}).fields) == 64 * kMiB);
}

TEST_CASE("Control refuses an admission that names a GPU twice or more GPUs than a session serves") {
  ServerProcess server = ServerProcess::Start(
      {"--emulated-gpus", "16", "--emulated-memory", "16MiB", "--control-listen", "127.0.0.1:0"});
  auto stub = ControlStub(server.control);
  cv1::Inventory inventory;
  REQUIRE(stub->GetInventory(ControlContext().get(), {}, &inventory).ok());
  REQUIRE(inventory.gpus_size() == 16);
  cv1::AdmitResponse admitted;

  cv1::AdmitRequest twice = AdmitRequest("pod-twice", inventory.gpus(0).uuid(), 10, kMiB);
  *twice.add_shares() = twice.shares(0);
  const grpc::Status dup = stub->Admit(ControlContext().get(), twice, &admitted);
  CHECK(dup.error_code() == grpc::INVALID_ARGUMENT);
  CHECK(dup.error_message() == "GPU " + inventory.gpus(0).uuid() + " is named twice");

  cv1::AdmitRequest all = AdmitRequest("pod-all", inventory.gpus(0).uuid(), 10, kMiB);
  for (int i = 1; i < 16; ++i) {
    auto* share = all.add_shares();
    *share = all.shares(0);
    share->set_gpu_uuid(inventory.gpus(i).uuid());
  }
  cv1::AdmitRequest too_many = all;  // the emulator has at most 16 GPUs: the 17th names one again
  *too_many.add_shares() = all.shares(0);
  const grpc::Status many = stub->Admit(ControlContext().get(), too_many, &admitted);
  CHECK(many.error_code() == grpc::INVALID_ARGUMENT);
  CHECK(many.error_message() == "17 shares; a pod may have at most 16 GPUs of one server");
  REQUIRE(stub->Admit(ControlContext().get(), all, &admitted).ok());
  TestClient pod = TestClient::Open(server.endpoint, "pod-all");
  CHECK(std::get<0>(pod.Call<Op::DeviceGetCount>({}).fields) == 16);
}

}  // namespace
}  // namespace gpupool::testing
