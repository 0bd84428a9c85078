#include "remoting/server/control_service.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "remoting/server/control_access.h"

namespace gpupool::server {
namespace {

grpc::Status ToGrpc(const Status& s) {
  static const std::map<Code, grpc::StatusCode> codes = {
      {Code::kInvalidArgument, grpc::INVALID_ARGUMENT},
      {Code::kNotFound, grpc::NOT_FOUND},
      {Code::kResourceExhausted, grpc::RESOURCE_EXHAUSTED},
      {Code::kUnavailable, grpc::UNAVAILABLE},
      {Code::kDeadlineExceeded, grpc::DEADLINE_EXCEEDED},
      {Code::kFailedPrecondition, grpc::FAILED_PRECONDITION}};
  auto it = codes.find(s.code());
  return {it == codes.end() ? grpc::INTERNAL : it->second, s.message()};
}

void FillShares(const std::vector<ShareRecord>& shares,
                google::protobuf::RepeatedPtrField<control::v1::Share>* out) {
  for (const ShareRecord& s : shares) {
    auto* share = out->Add();
    share->set_gpu_uuid(s.gpu_uuid);
    share->set_percent(s.percent);
    share->set_memory_bytes(s.memory_bytes);
  }
}

}  // namespace

ControlService::ControlService(ServerOptions options, Registry* registry, Reaper* reaper,
                               std::shared_ptr<PodTokenReview> pod_tokens)
    : options_(std::move(options)), registry_(registry), reaper_(reaper), pod_tokens_(std::move(pod_tokens)) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  server_id_ = std::string(host) + "-" + std::to_string(NowUnixMs());
}

Result<InventoryInfo> ControlService::Inventory() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!inventory_) {
    GPUPOOL_ASSIGN_OR_RETURN(InventoryInfo info, QueryInventory(options_, reaper_));
    inventory_ = info;
  }
  return *inventory_;
}

grpc::Status ControlService::GetInventory(grpc::ServerContext* context,
                                          const control::v1::GetInventoryRequest*,
                                          control::v1::Inventory* out) {
  if (grpc::Status denied = AuthorizeControlCall(*context, options_, pod_tokens_.get()); !denied.ok())
    return denied;
  auto info = Inventory();
  if (!info.ok()) return ToGrpc(info.status());
  out->set_server_id(server_id_);
  out->set_version(GPUPOOL_VERSION_STRING);
  out->set_device_kind(options_.device);
  out->set_driver_version(info->driver_version);
  auto admissions = registry_->Admissions();
  auto sessions = registry_->Sessions();
  for (const GpuInfo& g : info->gpus) {
    auto* gpu = out->add_gpus();
    gpu->set_uuid(g.uuid);
    gpu->set_model(g.name);
    gpu->set_memory_bytes(g.memory_bytes);
    gpu->set_index(g.index);
    gpu->set_compute_capability_major(g.cc_major);
    gpu->set_compute_capability_minor(g.cc_minor);
    gpu->set_multiprocessors(g.multiprocessors);
    gpu->set_healthy(g.healthy);
    gpu->set_health_message(g.unhealthy);
    std::uint32_t percent = 0, live = 0;
    std::uint64_t memory = 0;
    for (const AdmissionRecord& a : admissions) {
      for (const ShareRecord& s : a.shares) {
        if (s.gpu_uuid == g.uuid) percent += s.percent, memory += s.memory_bytes;
      }
    }
    // From the sessions' stats, as ListSessions and /metrics count them: an entry with no GPU in
    // particular runs on the server's first.
    for (const SessionRecord& s : sessions) {
      const SessionStats& stats = *s.stats->get();
      const SessionGpu* end = stats.gpus + stats.gpu_count();
      live += std::any_of(stats.gpus, end, [&](const SessionGpu& entry) {
        return entry.Uuid() == g.uuid || (entry.Uuid().empty() && g.index == 0);
      });
    }
    gpu->set_allocated_percent(percent);
    gpu->set_allocated_memory_bytes(memory);
    gpu->set_sessions(live);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::Admit(grpc::ServerContext* context, const control::v1::AdmitRequest* req,
                                   control::v1::AdmitResponse*) {
  if (grpc::Status denied = AuthorizeControlCall(*context, options_, pod_tokens_.get()); !denied.ok())
    return denied;
  if (req->pod_uid().empty()) return {grpc::INVALID_ARGUMENT, "pod_uid is required"};
  if (req->shares().empty()) return {grpc::INVALID_ARGUMENT, "at least one share is required"};
  // One session serves all of a pod's GPUs on this server (session_stats.h).
  if (req->shares_size() > static_cast<int>(SessionStats::kMaxGpus)) {
    return {grpc::INVALID_ARGUMENT, std::to_string(req->shares_size()) + " shares; a pod may have at most " +
                                        std::to_string(SessionStats::kMaxGpus) + " GPUs of one server"};
  }
  auto info = Inventory();
  if (!info.ok()) return ToGrpc(info.status());
  AdmissionRecord admission{req->pod_uid(), req->pod_namespace(), req->pod_name(), {}, 0};
  for (const auto& share : req->shares()) {
    const GpuInfo* gpu = nullptr;
    for (const GpuInfo& g : info->gpus) gpu = g.uuid == share.gpu_uuid() ? &g : gpu;
    if (gpu == nullptr) return {grpc::NOT_FOUND, "no GPU " + share.gpu_uuid() + " on this server"};
    for (const ShareRecord& earlier : admission.shares) {
      if (earlier.gpu_uuid == gpu->uuid)
        return {grpc::INVALID_ARGUMENT, "GPU " + gpu->uuid + " is named twice"};
    }
    if (!gpu->healthy)
      return {grpc::FAILED_PRECONDITION, "GPU " + gpu->uuid + " is unhealthy: " + gpu->unhealthy};
    if (share.percent() < 1 || share.percent() > 100) {
      return {grpc::INVALID_ARGUMENT, "percent must be 1..100, got " + std::to_string(share.percent())};
    }
    // Capacity: what other pods hold on this GPU plus this share must fit.
    std::uint64_t percent = share.percent(), memory = share.memory_bytes();
    for (const AdmissionRecord& other : registry_->Admissions()) {
      if (other.pod_uid == req->pod_uid()) continue;  // re-admission replaces the old shares
      for (const ShareRecord& s : other.shares) {
        if (s.gpu_uuid == share.gpu_uuid()) percent += s.percent, memory += s.memory_bytes;
      }
    }
    if (percent > 100 || memory > gpu->memory_bytes) {
      return {grpc::RESOURCE_EXHAUSTED, "GPU " + gpu->uuid + " has no room for this share"};
    }
    admission.shares.push_back({share.gpu_uuid(), share.percent(), share.memory_bytes()});
  }
  registry_->Admit(std::move(admission));
  return grpc::Status::OK;
}

grpc::Status ControlService::Revoke(grpc::ServerContext* context, const control::v1::RevokeRequest* req,
                                    control::v1::RevokeResponse* out) {
  if (grpc::Status denied = AuthorizeControlCall(*context, options_, pod_tokens_.get()); !denied.ok())
    return denied;
  if (req->pod_uid().empty()) return {grpc::INVALID_ARGUMENT, "pod_uid is required"};
  out->set_sessions_ended(
      registry_->Revoke(req->pod_uid(), req->reason().empty() ? "revoked" : req->reason()));
  return grpc::Status::OK;
}

grpc::Status ControlService::ListAdmissions(grpc::ServerContext* context,
                                            const control::v1::ListAdmissionsRequest*,
                                            control::v1::ListAdmissionsResponse* out) {
  if (grpc::Status denied = AuthorizeControlCall(*context, options_, pod_tokens_.get()); !denied.ok())
    return denied;
  for (const AdmissionRecord& a : registry_->Admissions()) {
    auto* admission = out->add_admissions();
    admission->set_pod_uid(a.pod_uid);
    admission->set_pod_namespace(a.pod_namespace);
    admission->set_pod_name(a.pod_name);
    admission->set_admitted_unix_ms(a.admitted_unix_ms);
    FillShares(a.shares, admission->mutable_shares());
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::ListSessions(grpc::ServerContext* context,
                                          const control::v1::ListSessionsRequest*,
                                          control::v1::ListSessionsResponse* out) {
  if (grpc::Status denied = AuthorizeControlCall(*context, options_, pod_tokens_.get()); !denied.ok())
    return denied;
  std::string default_gpu;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (inventory_ && !inventory_->gpus.empty()) default_gpu = inventory_->gpus.front().uuid;
  }
  for (const SessionRecord& s : registry_->Sessions()) {
    const SessionStats& stats = *s.stats->get();
    auto* session = out->add_sessions();
    session->set_id(s.id);
    session->set_pod_uid(s.pod_uid);
    session->set_pod_namespace(s.pod_namespace);
    session->set_pod_name(s.pod_name);
    session->set_peer(s.peer);
    session->set_process(s.process);
    for (std::uint32_t i = 0; i < stats.gpu_count(); ++i) {
      const SessionGpu& g = stats.gpus[i];
      auto* gpu = session->add_gpus();
      gpu->set_gpu_uuid(g.Uuid().empty() ? default_gpu : std::string(g.Uuid()));
      gpu->set_memory_used_bytes(g.memory_used_bytes);
      gpu->set_memory_limit_bytes(g.memory_limit_bytes);
      gpu->set_percent(g.percent == 0 ? 100 : g.percent.load());
      gpu->set_kernels_launched(g.kernels_launched);
      gpu->set_gpu_busy_seconds(static_cast<double>(g.busy_ns.load()) / 1e9);
      gpu->set_bytes_to_device(g.bytes_to_device);
      gpu->set_bytes_from_device(g.bytes_from_device);
    }
    if (session->gpus_size() > 0) {
      session->set_gpu_uuid(session->gpus(0).gpu_uuid());
      session->set_percent(session->gpus(0).percent());
    }
    session->set_memory_used_bytes(stats.MemoryUsed());
    session->set_memory_limit_bytes(stats.MemoryLimit());
    session->set_kernels_launched(stats.KernelsLaunched());
    session->set_bytes_to_device(stats.BytesToDevice());
    session->set_bytes_from_device(stats.BytesFromDevice());
    session->set_mapped_host_bytes(stats.mapped_host_bytes.load());
    session->set_gpu_busy_seconds(static_cast<double>(stats.BusyNs()) / 1e9);
    session->set_started_unix_ms(s.started_unix_ms);
  }
  return grpc::Status::OK;
}

Result<std::unique_ptr<grpc::Server>> StartControlServer(const Endpoint& endpoint,
                                                         const ServerOptions& options,
                                                         ControlService* service, Endpoint* bound) {
  grpc::ServerBuilder builder;
  int port = 0;
  std::string address = endpoint.ToString();
  builder.AddListeningPort(address, ControlServerCredentials(options),
                           endpoint.kind == Endpoint::Kind::kTcp ? &port : nullptr);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (endpoint.kind == Endpoint::Kind::kTcp && port == 0)) {
    return Status::Unavailable("cannot serve the control API on " + address);
  }
  *bound = endpoint;
  if (endpoint.kind == Endpoint::Kind::kTcp) bound->port = static_cast<std::uint16_t>(port);
  return server;
}

}  // namespace gpupool::server
