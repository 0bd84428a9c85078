// The broker's Control service and /metrics, against the real server: inventory, admissions and the
// memory share they give a pod's sessions, revocation, live session counters.
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "gpupool/control/v1/control.grpc.pb.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
namespace cv1 = control::v1;

std::unique_ptr<cv1::Control::Stub> Stub(const std::string& address) {
  return cv1::Control::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kWait);
  return ctx;
}

cv1::AdmitRequest AdmitRequest(const std::string& uid, const std::string& gpu, std::uint32_t percent,
                               std::uint64_t memory) {
  cv1::AdmitRequest req;
  req.set_pod_uid(uid);
  req.set_pod_namespace("ns");
  req.set_pod_name("pod-" + uid);
  auto* share = req.add_shares();
  share->set_gpu_uuid(gpu);
  share->set_percent(percent);
  share->set_memory_bytes(memory);
  return req;
}

TEST_CASE("Control: inventory, admissions, a pod's memory share, sessions and revocation") {
  ServerProcess server = ServerProcess::Start(
      {"--emulated-gpus", "2", "--emulated-memory", "8GiB", "--control-listen", "127.0.0.1:0"});
  auto stub = Stub(server.control);

  cv1::Inventory inventory;
  REQUIRE(stub->GetInventory(Context().get(), {}, &inventory).ok());
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
    CHECK(stub->Admit(Context().get(), k.req, &out).error_code() == k.code);
  }
  cv1::AdmitResponse admitted;
  REQUIRE(stub->Admit(Context().get(), AdmitRequest("pod-1", gpu, 60, 32ull << 20), &admitted).ok());
  CHECK(stub->Admit(Context().get(), AdmitRequest("pod-2", gpu, 50, 1 << 20), &admitted).error_code() ==
        grpc::RESOURCE_EXHAUSTED);  // 60 % + 50 % > 100 %
  cv1::ListAdmissionsResponse admissions;
  REQUIRE(stub->ListAdmissions(Context().get(), {}, &admissions).ok());
  REQUIRE(admissions.admissions_size() == 1);
  CHECK(admissions.admissions(0).pod_name() == "pod-pod-1");

  TestClient pod = TestClient::Open(server.endpoint, "pod-1");
  pod.UseDevice0();
  auto info = pod.Call<Op::MemGetInfo>({});
  REQUIRE(info.result == CUDA_SUCCESS);
  CHECK(std::get<1>(info.fields) == 32ull << 20);  // the share is the session's device memory
  CHECK(pod.Result<Op::MemAlloc>({40ull << 20}) == CUDA_ERROR_OUT_OF_MEMORY);
  REQUIRE(pod.Result<Op::MemAlloc>({20ull << 20}) == CUDA_SUCCESS);
  REQUIRE(pod.Result<Op::MemcpyHtoD>({std::get<0>(pod.Call<Op::MemAlloc>({4096}).fields)},
                                     Pattern(4096, 2)) == CUDA_SUCCESS);

  cv1::ListSessionsResponse sessions;
  REQUIRE(stub->ListSessions(Context().get(), {}, &sessions).ok());
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

  REQUIRE(stub->GetInventory(Context().get(), {}, &inventory).ok());
  CHECK(inventory.gpus(1).allocated_percent() == 60);
  CHECK(inventory.gpus(1).sessions() == 1);

  cv1::RevokeRequest revoke;
  revoke.set_pod_uid("pod-1");
  revoke.set_reason("pod deleted");
  cv1::RevokeResponse revoked;
  REQUIRE(stub->Revoke(Context().get(), revoke, &revoked).ok());
  CHECK(revoked.sessions_ended() == 1);
  protocol::ErrorMessage error = pod.ExpectErrorAndClose();
  CHECK(error.code == Code::kPermissionDenied);
  CHECK(error.message.find("pod deleted") != std::string::npos);
  REQUIRE(server.process.WaitForLine("session " + std::to_string(pod.session_id()) + " ended", kWait).ok());
  REQUIRE(stub->ListSessions(Context().get(), {}, &sessions).ok());
  CHECK(sessions.sessions_size() == 0);
}

TEST_CASE("/metrics reports sessions, memory and traffic in Prometheus text") {
  ServerProcess server =
      ServerProcess::Start({"--metrics-listen", "127.0.0.1:0", "--session-memory", "1GiB"});
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  std::uint64_t ptr = std::get<0>(c.Call<Op::MemAlloc>({1 << 20}).fields);
  REQUIRE(c.Result<Op::MemcpyHtoD>({ptr}, Pattern(5000, 4)) == CUDA_SUCCESS);
  REQUIRE(c.Call<Op::MemcpyDtoH>({ptr, 3000}).result == CUDA_SUCCESS);
  CHECK(c.Result<Op::StreamSynchronize>({0xbad}) == CUDA_ERROR_INVALID_HANDLE);

  std::string page = HttpGet(server.metrics, "/metrics");
  CHECK(page.rfind("HTTP/1.0 200 OK", 0) == 0);
  // Names and labels as docs/operations.md and the chart's dashboard use them.
  auto sessions_at = page.find("\ngpupool_sessions{gpu=\"GPU-");
  REQUIRE(sessions_at != std::string::npos);
  std::string sessions_line =
      page.substr(sessions_at + 1, page.find('\n', sessions_at + 1) - sessions_at - 1);
  CHECK(sessions_line.substr(sessions_line.size() - 4) == "\"} 1");  // one session on that GPU
  std::string labels = "\",namespace=\"\",pod=\"\",session=\"" + std::to_string(c.session_id()) + "\"}";
  CHECK(page.find(labels + " 1048576\n") != std::string::npos);     // memory used
  CHECK(page.find(labels + " 1073741824\n") != std::string::npos);  // the limit
  CHECK(page.find("\ngpupool_bytes_transferred_total{direction=\"to_device\"} 5000\n") != std::string::npos);
  CHECK(page.find("\ngpupool_bytes_transferred_total{direction=\"from_device\"} 3000\n") !=
        std::string::npos);
  CHECK(page.find("session=\"" + std::to_string(c.session_id()) + "\",direction=\"to_device\"} 5000\n") !=
        std::string::npos);
  CHECK(page.find("\ngpupool_call_errors_total 1\n") != std::string::npos);
  CHECK(page.find("gpupool_gpu_memory_total_bytes{gpu=\"GPU-") != std::string::npos);
  CHECK(page.find("gpupool_gpu_percent_admitted{gpu=\"GPU-") != std::string::npos);
  // Every server metric the dashboard and docs/operations.md name that this server exports today.
  for (const char* name :
       {"gpupool_sessions_ended_total", "gpupool_session_memory_used_bytes",
        "gpupool_session_memory_limit_bytes", "gpupool_session_percent", "gpupool_session_kernels_total",
        "gpupool_session_bytes_total", "gpupool_gpu_memory_used_bytes", "gpupool_gpu_memory_admitted_bytes",
        "gpupool_kernel_launches_total"}) {
    CHECK(page.find(std::string("\n# TYPE ") + name + " ") != std::string::npos);
  }
  CHECK(HttpGet(server.metrics, "/other").rfind("HTTP/1.0 404", 0) == 0);
}

}  // namespace
}  // namespace gpupool::testing
