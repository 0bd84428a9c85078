// The broker's Control service against the real server: inventory, admissions and the memory share
// they give a pod's sessions, revocation (and the session-ended reason /metrics gives it), live
// session counters.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "gpupool/control/v1/control.grpc.pb.h"
#include "remoting/server/gpu_identity.h"
#include "tests/remoting/server/control_client.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
namespace cv1 = control::v1;

TEST_CASE("Control: inventory, admissions, a pod's memory share, sessions and revocation") {
  ServerProcess server =
      ServerProcess::Start({"--emulated-gpus", "2", "--emulated-memory", "8GiB", "--control-listen",
                            "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"});
  auto stub = ControlStub(server.control);

  cv1::Inventory inventory;
  REQUIRE(stub->GetInventory(ControlContext().get(), {}, &inventory).ok());
  CHECK(inventory.device_kind() == "emulated");
  REQUIRE(inventory.gpus_size() == 2);
  CHECK(inventory.gpus(0).memory_bytes() == 8ull << 30);
  CHECK(inventory.gpus(0).uuid().rfind("GPU-", 0) == 0);
  CHECK(inventory.gpus(0).uuid() != inventory.gpus(1).uuid());
  const std::string gpu = inventory.gpus(1).uuid();

  struct Case {
    const char* what;
    cv1::AdmitRequest req;
    grpc::StatusCode code;
  };
  const std::vector<Case> refused = {
      {"unknown GPU", AdmitRequest("a", "GPU-nope", 50, 1 << 30), grpc::NOT_FOUND},
      {"percent 0", AdmitRequest("a", gpu, 0, 1 << 30), grpc::INVALID_ARGUMENT},
      {"no pod uid", AdmitRequest("", gpu, 50, 1 << 30), grpc::INVALID_ARGUMENT},
      {"more memory than the GPU", AdmitRequest("a", gpu, 50, 9ull << 30), grpc::RESOURCE_EXHAUSTED},
  };
  for (const Case& k : refused) {
    INFO(k.what);
    cv1::AdmitResponse out;
    CHECK(stub->Admit(ControlContext().get(), k.req, &out).error_code() == k.code);
  }
  cv1::AdmitResponse admitted;
  REQUIRE(stub->Admit(ControlContext().get(), AdmitRequest("pod-1", gpu, 60, 32ull << 20), &admitted).ok());
  CHECK(
      stub->Admit(ControlContext().get(), AdmitRequest("pod-2", gpu, 50, 1 << 20), &admitted).error_code() ==
      grpc::RESOURCE_EXHAUSTED);  // 60 % + 50 % > 100 %
  cv1::ListAdmissionsResponse admissions;
  REQUIRE(stub->ListAdmissions(ControlContext().get(), {}, &admissions).ok());
  REQUIRE(admissions.admissions_size() == 1);
  CHECK(admissions.admissions(0).pod_name() == "pod-pod-1");

  TestClient pod = TestClient::Open(server.endpoint, "pod-1");
  // The pod sees only the GPU it was admitted on (the server's second), as its device 0.
  auto count = pod.Call<Op::DeviceGetCount>({});
  REQUIRE(count.result == CUDA_SUCCESS);
  CHECK(std::get<0>(count.fields) == 1);
  auto uuid = pod.Call<Op::DeviceGetUuid>({0});
  REQUIRE(uuid.result == CUDA_SUCCESS);
  REQUIRE(std::get<0>(uuid.fields).size() == sizeof(CUuuid));
  CUuuid seen{};
  std::memcpy(seen.bytes, std::get<0>(uuid.fields).data(), sizeof seen.bytes);
  CHECK(server::FormatGpuUuid(seen) == gpu);
  pod.UseDevice0();
  auto info = pod.Call<Op::MemGetInfo>({});
  REQUIRE(info.result == CUDA_SUCCESS);
  CHECK(std::get<1>(info.fields) == 32ull << 20);  // the share is the session's device memory
  CHECK(pod.Result<Op::MemAlloc>({40ull << 20}) == CUDA_ERROR_OUT_OF_MEMORY);
  REQUIRE(pod.Result<Op::MemAlloc>({20ull << 20}) == CUDA_SUCCESS);
  REQUIRE(pod.Result<Op::MemcpyHtoD>({std::get<0>(pod.Call<Op::MemAlloc>({4096}).fields)},
                                     Pattern(4096, 2)) == CUDA_SUCCESS);

  cv1::ListSessionsResponse sessions;
  REQUIRE(stub->ListSessions(ControlContext().get(), {}, &sessions).ok());
  REQUIRE(sessions.sessions_size() == 1);
  const cv1::Session& s = sessions.sessions(0);
  CHECK(s.id() == pod.session_id());
  CHECK(s.pod_uid() == "pod-1");
  CHECK(s.gpu_uuid() == gpu);
  CHECK(s.percent() == 60);
  CHECK(s.memory_used_bytes() == (20ull << 20) + 4096);
  CHECK(s.memory_limit_bytes() == 32ull << 20);
  CHECK(s.bytes_to_device() == 4096);
  CHECK(s.process().find("server_test[") == 0);

  REQUIRE(stub->GetInventory(ControlContext().get(), {}, &inventory).ok());
  CHECK(inventory.gpus(1).allocated_percent() == 60);
  CHECK(inventory.gpus(1).sessions() == 1);

  cv1::RevokeRequest revoke;
  revoke.set_pod_uid("pod-1");
  revoke.set_reason("pod deleted");
  cv1::RevokeResponse revoked;
  REQUIRE(stub->Revoke(ControlContext().get(), revoke, &revoked).ok());
  CHECK(revoked.sessions_ended() == 1);
  protocol::ErrorMessage error = pod.ExpectErrorAndClose();
  CHECK(error.code == Code::kPermissionDenied);
  CHECK(error.message.find("pod deleted") != std::string::npos);
  REQUIRE(server.process.WaitForLine("session " + std::to_string(pod.session_id()) + " ended", kWait).ok());
  REQUIRE(stub->ListSessions(ControlContext().get(), {}, &sessions).ok());
  CHECK(sessions.sessions_size() == 0);
  CHECK(HttpGet(server.metrics, "/metrics").find("\ngpupool_sessions_ended_total{reason=\"revoked\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("a GPU that fell off the bus is reported unhealthy, and pods are not placed on it") {
  ServerProcess server =
      ServerProcess::Start({"--emulated-gpus", "2", "--emulated-lost-gpu", "1", "--control-listen",
                            "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"});
  auto stub = ControlStub(server.control);
  cv1::Inventory inventory;
  REQUIRE(stub->GetInventory(ControlContext().get(), {}, &inventory).ok());
  REQUIRE(inventory.gpus_size() == 2);
  CHECK(inventory.gpus(0).healthy());
  CHECK(inventory.gpus(0).health_message().empty());
  CHECK_FALSE(inventory.gpus(1).healthy());
  CHECK(inventory.gpus(1).health_message() == "cuDeviceTotalMem failed");
  cv1::AdmitResponse admitted;
  CHECK(stub->Admit(ControlContext().get(), AdmitRequest("pod-1", inventory.gpus(1).uuid(), 10, 1 << 20),
                    &admitted)
            .error_code() == grpc::FAILED_PRECONDITION);

  std::string page = HttpGet(server.metrics, "/metrics");
  CHECK(page.find("\ngpupool_gpu_healthy{gpu=\"" + inventory.gpus(0).uuid() + "\"} 1\n") !=
        std::string::npos);
  CHECK(page.find("\ngpupool_gpu_healthy{gpu=\"" + inventory.gpus(1).uuid() + "\"} 0\n") !=
        std::string::npos);

  // A session asking for the lost GPU's context gets the driver's answer.
  TestClient c = TestClient::Open(server.endpoint);
  CHECK(c.Result<Op::DevicePrimaryCtxRetain>({1}) == CUDA_ERROR_DEVICE_UNAVAILABLE);
  CHECK(c.Result<Op::DevicePrimaryCtxRetain>({0}) == CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpupool::testing
