// Who may use the Control API (admissions, revocations, the inventory and the session list, with
// pod names): the port (data port + 1) is served over TLS with the data port's certificate when the
// server has one (files watched, so a renewed certificate is served without a restart), and, when the
// server authenticates its data clients, every call must carry ("authorization: Bearer") the server's
// token (--token-file) or a Kubernetes token of an allowed service account (--control-service-account,
// checked with the server's TokenReview: the operator's projected gpupool.io token), or come with a
// client certificate the client CA verified (--tls-client-ca-file). A server without client
// authentication listens on loopback only, Control port included (server_flags.h,
// RestrictToLoopback), and lets its local callers in.
//
// Thread-safety: pure functions; gRPC calls AuthorizeControlCall from its handler threads.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "remoting/server/pod_token_review.h"
#include "remoting/server/server_flags.h"

namespace gpupool::server {

std::shared_ptr<grpc::ServerCredentials> ControlServerCredentials(const ServerOptions& options);

// OK when the call may proceed; UNAUTHENTICATED (with what is missing) or PERMISSION_DENIED (a valid
// token of a service account not allowed) otherwise. `reviews` may be null (no --pod-token-review).
grpc::Status AuthorizeControlCall(const grpc::ServerContext& context, const ServerOptions& options,
                                  PodTokenReview* reviews);

}  // namespace gpupool::server
