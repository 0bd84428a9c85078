// ControlClients: asks several GPU servers' Control API (proto/gpupool/control/v1) at once, each call
// with a deadline, and reports per server what came back or why nothing did. One unreachable or slow
// server never hides the others' answers, and the whole round takes at most one timeout.
//
// Thread-safety: one thread uses a ControlClients at a time; it runs its calls on threads of its own
// and joins them before returning. Channels are kept for the object's life, so `top` reconnects
// cheaply on every refresh.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cli/server_flags.h"
#include "common/status.h"
#include "gpupool/control/v1/control.grpc.pb.h"

namespace gpupool::cli {

// What one server said: `status` is OK when both the inventory and (if asked) the sessions arrived.
struct ServerReport {
  ServerTarget target;
  Status status;
  control::v1::Inventory inventory;
  std::vector<control::v1::Session> sessions;
};

class ControlClients {
 public:
  // A target whose channel cannot be made (an unreadable TLS file) reports that error.
  ControlClients(std::vector<ServerTarget> targets, std::chrono::milliseconds timeout,
                 control::ControlAccess access = {});
  ~ControlClients();
  ControlClients(const ControlClients&) = delete;
  ControlClients& operator=(const ControlClients&) = delete;

  // One report per target, in the order the targets were given. `with_sessions` adds ListSessions.
  std::vector<ServerReport> Query(bool with_sessions);

 private:
  struct Server;
  ServerReport QueryOne(Server& server, bool with_sessions) const;

  std::vector<std::unique_ptr<Server>> servers_;
  std::chrono::milliseconds timeout_;
  control::ControlAccess access_;
};

}  // namespace gpupool::cli
