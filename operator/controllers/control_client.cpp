#include "operator/controllers/control_client.h"

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "common/endpoint.h"
#include "common/log.h"
#include "common/read_file.h"
#include "gpupool/control/v1/control.grpc.pb.h"

namespace gpupool::controllers {
namespace {

Status FromGrpc(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  const std::string m = what + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return Status::ResourceExhausted(m);
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Status::DeadlineExceeded(m);
    case grpc::StatusCode::INVALID_ARGUMENT: return Status::InvalidArgument(m);
    case grpc::StatusCode::NOT_FOUND: return Status::NotFound(m);
    case grpc::StatusCode::PERMISSION_DENIED: return Status::PermissionDenied(m);
    case grpc::StatusCode::UNAUTHENTICATED: return Status::Unauthenticated(m);
    case grpc::StatusCode::FAILED_PRECONDITION: return Status::FailedPrecondition(m);
    case grpc::StatusCode::UNIMPLEMENTED: return Status::Unimplemented(m);
    default: return Status::Unavailable(m);
  }
}

class GrpcControlClient final : public ControlClient {
 public:
  GrpcControlClient(ControlDeadlines d, control::ControlAccess access)
      : deadlines_(d), access_(std::move(access)) {}

  Result<control::v1::Inventory> GetInventory(const std::string& control) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadlines_.inventory);
    control::v1::Inventory out;
    ++calls_;
    GPUPOOL_ASSIGN_OR_RETURN(std::shared_ptr<control::v1::Control::Stub> stub, Prepare(control, &ctx));
    GPUPOOL_RETURN_IF_ERROR(FromGrpc(stub->GetInventory(&ctx, {}, &out), "GetInventory " + control));
    return out;
  }

  Status Admit(const std::string& control, const control::v1::AdmitRequest& request) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadlines_.admit);
    control::v1::AdmitResponse out;
    ++calls_;
    GPUPOOL_ASSIGN_OR_RETURN(std::shared_ptr<control::v1::Control::Stub> stub, Prepare(control, &ctx));
    return FromGrpc(stub->Admit(&ctx, request, &out), "Admit on " + control);
  }

  Status Revoke(const std::string& control, const std::string& pod_uid, const std::string& reason) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadlines_.admit);
    control::v1::RevokeRequest req;
    req.set_pod_uid(pod_uid);
    req.set_reason(reason);
    control::v1::RevokeResponse out;
    ++calls_;
    GPUPOOL_ASSIGN_OR_RETURN(std::shared_ptr<control::v1::Control::Stub> stub, Prepare(control, &ctx));
    return FromGrpc(stub->Revoke(&ctx, req, &out), "Revoke on " + control);
  }

  Result<std::vector<control::v1::Admission>> ListAdmissions(const std::string& control) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadlines_.inventory);
    control::v1::ListAdmissionsResponse out;
    ++calls_;
    GPUPOOL_ASSIGN_OR_RETURN(std::shared_ptr<control::v1::Control::Stub> stub, Prepare(control, &ctx));
    GPUPOOL_RETURN_IF_ERROR(FromGrpc(stub->ListAdmissions(&ctx, {}, &out), "ListAdmissions " + control));
    return std::vector<control::v1::Admission>(out.admissions().begin(), out.admissions().end());
  }

  long calls() const override { return calls_.load(); }

 private:
  // The server's stub (made once per address) with the call's token added to `ctx`.
  Result<std::shared_ptr<control::v1::Control::Stub>> Prepare(const std::string& control,
                                                              grpc::ClientContext* ctx) {
    GPUPOOL_RETURN_IF_ERROR(control::AuthorizeCall(access_, ctx));
    std::lock_guard lock(mu_);
    GPUPOOL_RETURN_IF_ERROR(FollowCa());
    auto& stub = stubs_[control];
    if (!stub) {
      GPUPOOL_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                               control::OpenControlChannel(control, access_));
      stub = control::v1::Control::NewStub(channel);
    }
    return stub;
  }

  // A gRPC channel keeps the CA it was made with for every reconnection, so a servers' CA bundle that
  // changed (a new CA published beside the old, operator.md) makes new channels; calls under way keep
  // their stub. The file is small and read per call, like the token.
  Status FollowCa() {
    if (access_.tls_ca_file.empty()) return Status::Ok();
    GPUPOOL_ASSIGN_OR_RETURN(std::string ca, ReadTextFile(access_.tls_ca_file));
    if (ca == ca_pem_) return Status::Ok();
    if (!ca_pem_.empty() && !stubs_.empty()) {
      GPUPOOL_LOG(kInfo) << "the servers' CA bundle " << access_.tls_ca_file
                         << " changed: new Control channels to " << stubs_.size() << " servers";
    }
    stubs_.clear();
    ca_pem_ = std::move(ca);
    return Status::Ok();
  }

  const ControlDeadlines deadlines_;
  const control::ControlAccess access_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<control::v1::Control::Stub>> stubs_;  // guarded by mu_
  std::string ca_pem_;                                                        // guarded by mu_
  std::atomic<long> calls_{0};
};

}  // namespace

std::unique_ptr<ControlClient> NewGrpcControlClient(ControlDeadlines deadlines,
                                                    control::ControlAccess access) {
  return std::make_unique<GrpcControlClient>(deadlines, std::move(access));
}

std::string DefaultControlAddress(const std::string& data) {
  auto ep = ParseEndpoint(data);
  if (!ep.ok() || ep->kind != Endpoint::Kind::kTcp || ep->port == 65535) return data;
  Endpoint control = *ep;
  control.port = static_cast<std::uint16_t>(ep->port + 1);
  return control.ToString();
}

}  // namespace gpupool::controllers
