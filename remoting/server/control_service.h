// The Control gRPC service (proto/gpupool/control/v1/control.proto) served by the broker: inventory
// from an inventory child (cached after the first success), admissions and sessions from the
// Registry. `gpupool servers`, `gpupool top` and the operator are its clients.
//
// Thread-safety: gRPC calls the handlers from its own threads; state is in the Registry (locked)
// and the inventory cache (locked here).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/endpoint.h"
#include "gpupool/control/v1/control.grpc.pb.h"
#include "remoting/server/inventory.h"
#include "remoting/server/pod_token_review.h"
#include "remoting/server/registry.h"

namespace grpc {
class Server;
}

namespace gpupool::server {

class ControlService final : public control::v1::Control::Service {
 public:
  // `pod_tokens`: the broker's TokenReview, for Control callers that present a service-account token.
  ControlService(ServerOptions options, Registry* registry, Reaper* reaper,
                 std::shared_ptr<PodTokenReview> pod_tokens = nullptr);

  grpc::Status GetInventory(grpc::ServerContext*, const control::v1::GetInventoryRequest*,
                            control::v1::Inventory* out) override;
  grpc::Status Admit(grpc::ServerContext*, const control::v1::AdmitRequest* req,
                     control::v1::AdmitResponse*) override;
  grpc::Status Revoke(grpc::ServerContext*, const control::v1::RevokeRequest* req,
                      control::v1::RevokeResponse* out) override;
  grpc::Status ListAdmissions(grpc::ServerContext*, const control::v1::ListAdmissionsRequest*,
                              control::v1::ListAdmissionsResponse* out) override;
  grpc::Status ListSessions(grpc::ServerContext*, const control::v1::ListSessionsRequest*,
                            control::v1::ListSessionsResponse* out) override;

  // The GPUs, from the cache or a new inventory child.
  Result<InventoryInfo> Inventory();
  // This process's id in GetInventory (host name and start time).
  const std::string& server_id() const { return server_id_; }

 private:
  ServerOptions options_;
  Registry* registry_;
  Reaper* reaper_;
  std::shared_ptr<PodTokenReview> pod_tokens_;
  std::string server_id_;
  std::mutex mu_;
  std::optional<InventoryInfo> inventory_;  // guarded by mu_
};

// Serves `service` on `endpoint` (TCP or unix:), over TLS when `options` has a certificate
// (control_access.h). Sets *bound to the listening endpoint (real port).
Result<std::unique_ptr<grpc::Server>> StartControlServer(const Endpoint& endpoint,
                                                         const ServerOptions& options,
                                                         ControlService* service, Endpoint* bound);

}  // namespace gpupool::server
