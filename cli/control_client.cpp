#include "cli/control_client.h"

#include <grpcpp/grpcpp.h>

#include <future>

namespace gpupool::cli {
namespace {

// grpc::Status -> Status, once, here at the RPC edge; the message says what a user can do about it.
Status FromGrpc(const grpc::Status& s, const std::string& rpc) {
  const std::string detail = rpc + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::OK: return Status::Ok();
    case grpc::StatusCode::UNAVAILABLE: return Status::Unavailable("unreachable (" + detail + ")");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status::DeadlineExceeded("no answer before the deadline (" + detail + ")");
    case grpc::StatusCode::UNIMPLEMENTED:
      return Status::Unimplemented("does not serve the gpupool Control API (" + detail + ")");
    case grpc::StatusCode::UNAUTHENTICATED: return Status::Unauthenticated(detail);
    case grpc::StatusCode::PERMISSION_DENIED: return Status::PermissionDenied(detail);
    default: return Status::Internal(detail);
  }
}

}  // namespace

struct ControlClients::Server {
  ServerTarget target;
  Status channel_status;  // why there is no stub
  std::unique_ptr<control::v1::Control::Stub> stub;
};

ControlClients::ControlClients(std::vector<ServerTarget> targets, std::chrono::milliseconds timeout,
                               control::ControlAccess access)
    : timeout_(timeout), access_(std::move(access)) {
  for (ServerTarget& t : targets) {
    auto server = std::make_unique<Server>();
    auto channel = control::OpenControlChannel(t.control, access_);
    if (channel.ok()) {
      server->stub = control::v1::Control::NewStub(*channel);
    } else {
      server->channel_status = channel.status();
    }
    server->target = std::move(t);
    servers_.push_back(std::move(server));
  }
}

ControlClients::~ControlClients() = default;

ServerReport ControlClients::QueryOne(Server& server, bool with_sessions) const {
  ServerReport report;
  report.target = server.target;
  if (server.stub == nullptr) {
    report.status = server.channel_status;
    return report;
  }
  // One deadline for the server's whole round, so two calls cannot take twice the timeout.
  const auto deadline = std::chrono::system_clock::now() + timeout_;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline);
    report.status = control::AuthorizeCall(access_, &ctx);
    if (report.status.ok()) {
      report.status = FromGrpc(server.stub->GetInventory(&ctx, {}, &report.inventory), "GetInventory");
    }
  }
  if (report.status.ok() && with_sessions) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline);
    report.status = control::AuthorizeCall(access_, &ctx);
    control::v1::ListSessionsResponse sessions;
    if (report.status.ok()) {
      report.status = FromGrpc(server.stub->ListSessions(&ctx, {}, &sessions), "ListSessions");
    }
    report.sessions.assign(sessions.sessions().begin(), sessions.sessions().end());
  }
  return report;
}

std::vector<ServerReport> ControlClients::Query(bool with_sessions) {
  std::vector<std::future<ServerReport>> pending;
  pending.reserve(servers_.size());
  for (auto& server : servers_) {
    pending.push_back(std::async(
        std::launch::async, [this, &server, with_sessions] { return QueryOne(*server, with_sessions); }));
  }
  std::vector<ServerReport> reports;
  reports.reserve(pending.size());
  for (auto& p : pending) reports.push_back(p.get());
  return reports;
}

}  // namespace gpupool::cli
