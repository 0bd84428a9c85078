#include "tests/support/fake_control_server.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <stdexcept>

namespace gpupool::testing {

using control::v1::Admission;
using control::v1::AdmitRequest;
using control::v1::Inventory;
using control::v1::RevokeRequest;
using control::v1::Session;

class FakeControlServer::Service final : public control::v1::Control::Service {
 public:
  grpc::Status GetInventory(grpc::ServerContext* ctx, const control::v1::GetInventoryRequest*,
                            Inventory* out) override {
    if (Hung(ctx)) return {grpc::StatusCode::CANCELLED, "the caller gave up"};
    std::lock_guard<std::mutex> lock(mu);
    *out = WithAllocations();
    return grpc::Status::OK;
  }

  grpc::Status Admit(grpc::ServerContext* ctx, const AdmitRequest* req,
                     control::v1::AdmitResponse*) override {
    if (Hung(ctx)) return {grpc::StatusCode::CANCELLED, "the caller gave up"};
    std::lock_guard<std::mutex> lock(mu);
    admit_calls.push_back(*req);
    if (refuse_admit) return {grpc::StatusCode::RESOURCE_EXHAUSTED, "fake server refuses admissions"};
    for (const auto& share : req->shares()) {
      bool known = false;
      for (const auto& gpu : inventory.gpus()) known = known || gpu.uuid() == share.gpu_uuid();
      if (!known) return {grpc::StatusCode::NOT_FOUND, "no GPU " + share.gpu_uuid() + " on this server"};
    }
    Admission a;
    a.set_pod_uid(req->pod_uid());
    a.set_pod_namespace(req->pod_namespace());
    a.set_pod_name(req->pod_name());
    *a.mutable_shares() = req->shares();
    admissions[req->pod_uid()] = a;
    return grpc::Status::OK;
  }

  grpc::Status Revoke(grpc::ServerContext* ctx, const RevokeRequest* req,
                      control::v1::RevokeResponse*) override {
    if (Hung(ctx)) return {grpc::StatusCode::CANCELLED, "the caller gave up"};
    std::lock_guard<std::mutex> lock(mu);
    revoke_calls.push_back(*req);
    admissions.erase(req->pod_uid());
    return grpc::Status::OK;
  }

  grpc::Status ListAdmissions(grpc::ServerContext* ctx, const control::v1::ListAdmissionsRequest*,
                              control::v1::ListAdmissionsResponse* out) override {
    if (Hung(ctx)) return {grpc::StatusCode::CANCELLED, "the caller gave up"};
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [uid, a] : admissions) *out->add_admissions() = a;
    return grpc::Status::OK;
  }

  grpc::Status ListSessions(grpc::ServerContext*, const control::v1::ListSessionsRequest*,
                            control::v1::ListSessionsResponse* out) override {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& s : sessions) *out->add_sessions() = s;
    return grpc::Status::OK;
  }

  // The inventory with allocated_* recomputed from current admissions. Caller holds mu.
  Inventory WithAllocations() const {
    Inventory inv = inventory;
    for (auto& gpu : *inv.mutable_gpus()) {
      std::uint32_t percent = 0;
      std::uint64_t memory = 0;
      for (const auto& [uid, a] : admissions) {
        for (const auto& s : a.shares()) {
          if (s.gpu_uuid() == gpu.uuid()) {
            percent += s.percent();
            memory += s.memory_bytes();
          }
        }
      }
      gpu.set_allocated_percent(percent);
      gpu.set_allocated_memory_bytes(memory);
    }
    return inv;
  }

  // Holds a call while `hang` is set, as a server that accepts connections but never answers would:
  // until the caller's deadline cancels it, or the server stops. True when the call was not served.
  bool Hung(grpc::ServerContext* ctx) {
    std::unique_lock<std::mutex> lock(mu);
    while (hang) {
      if (stopping || ctx->IsCancelled()) return true;
      // gRPC reports cancellation by polling only; the wait ends early when hang is cleared.
      released.wait_for(lock, std::chrono::milliseconds(10));
    }
    return false;
  }

  std::mutex mu;
  std::condition_variable released;
  bool hang = false, stopping = false;
  Inventory inventory;
  bool refuse_admit = false;
  std::vector<Session> sessions;
  std::vector<AdmitRequest> admit_calls;
  std::vector<RevokeRequest> revoke_calls;
  std::map<std::string, Admission> admissions;
};

control::v1::Gpu FakeControlServer::MakeGpu(const std::string& server_tag, int index,
                                            std::uint64_t memory_bytes) {
  control::v1::Gpu gpu;
  gpu.set_uuid("GPU-" + server_tag + "-" + std::to_string(index));
  gpu.set_model("NVIDIA H200");
  gpu.set_memory_bytes(memory_bytes);
  gpu.set_index(index);
  gpu.set_compute_capability_major(9);
  gpu.set_compute_capability_minor(0);
  gpu.set_multiprocessors(132);
  gpu.set_healthy(true);
  return gpu;
}

FakeControlServer::FakeControlServer() : service_(std::make_unique<Service>()) {}

FakeControlServer::~FakeControlServer() {
  Stop();
}

void FakeControlServer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (server_) return;
  grpc::ServerBuilder builder;
  int selected = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port_), grpc::InsecureServerCredentials(),
                           &selected);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || selected == 0) throw std::runtime_error("FakeControlServer: cannot listen");
  port_ = selected;
}

void FakeControlServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(service_->mu);
    service_->stopping = true;  // hung calls end, so Shutdown does not wait for them
  }
  service_->released.notify_all();
  std::unique_ptr<grpc::Server> server;
  {
    std::lock_guard<std::mutex> lock(mu_);
    server = std::move(server_);
  }
  if (server) {
    server->Shutdown();
    server->Wait();
  }
  std::lock_guard<std::mutex> lock(service_->mu);
  service_->stopping = false;
}

bool FakeControlServer::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_ != nullptr;
}

std::string FakeControlServer::address() const {
  std::lock_guard<std::mutex> lock(mu_);
  return "127.0.0.1:" + std::to_string(port_);
}

void FakeControlServer::SetInventory(Inventory inventory) {
  std::lock_guard<std::mutex> lock(service_->mu);
  service_->inventory = std::move(inventory);
}

Inventory FakeControlServer::inventory() const {
  std::lock_guard<std::mutex> lock(service_->mu);
  return service_->WithAllocations();
}

void FakeControlServer::SetHang(bool hang) {
  {
    std::lock_guard<std::mutex> lock(service_->mu);
    service_->hang = hang;
  }
  service_->released.notify_all();
}

void FakeControlServer::SetRefuseAdmit(bool refuse) {
  std::lock_guard<std::mutex> lock(service_->mu);
  service_->refuse_admit = refuse;
}

void FakeControlServer::SetSessions(std::vector<Session> sessions) {
  std::lock_guard<std::mutex> lock(service_->mu);
  service_->sessions = std::move(sessions);
}

std::vector<AdmitRequest> FakeControlServer::admits() const {
  std::lock_guard<std::mutex> lock(service_->mu);
  return service_->admit_calls;
}

std::vector<RevokeRequest> FakeControlServer::revokes() const {
  std::lock_guard<std::mutex> lock(service_->mu);
  return service_->revoke_calls;
}

std::vector<Admission> FakeControlServer::admissions() const {
  std::lock_guard<std::mutex> lock(service_->mu);
  std::vector<Admission> out;
  for (const auto& [uid, a] : service_->admissions) out.push_back(a);
  return out;
}

}  // namespace gpupool::testing
