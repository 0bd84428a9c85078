// ControlClient: the operator's calls to gpupool-server Control APIs (proto/gpupool/control/v1),
// one channel per server, every call with a deadline (STYLE §11). grpc::Status becomes a gpupool
// Status here, once: UNAVAILABLE / DEADLINE_EXCEEDED stay retryable, RESOURCE_EXHAUSTED means the
// server refused an admission.
//
// Thread-safety: all methods may be called concurrently (channels are cached under a mutex).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/control/control_channel.h"
#include "common/status.h"
#include "gpupool/control/v1/control.pb.h"

namespace grpc {
class Channel;
}

namespace gpupool::controllers {

struct ControlDeadlines {
  std::chrono::milliseconds inventory{std::chrono::seconds(3)};
  std::chrono::milliseconds admit{std::chrono::seconds(5)};
};

class ControlClient {
 public:
  virtual ~ControlClient() = default;
  // `control` is the server's Control API address HOST:PORT.
  virtual Result<control::v1::Inventory> GetInventory(const std::string& control) = 0;
  virtual Status Admit(const std::string& control, const control::v1::AdmitRequest& request) = 0;
  virtual Status Revoke(const std::string& control, const std::string& pod_uid,
                        const std::string& reason) = 0;
  virtual Result<std::vector<control::v1::Admission>> ListAdmissions(const std::string& control) = 0;
  // Calls made so far (benchmarks).
  virtual long calls() const = 0;
};

// gRPC to each server's Control API, with TLS and the servers' token as `access` says (a channel
// that cannot be made, say an unreadable CA file, fails that server's calls with the reason).
std::unique_ptr<ControlClient> NewGrpcControlClient(ControlDeadlines deadlines = {},
                                                    control::ControlAccess access = {});

// The Control address of a server whose data address is `data` when none is configured: the data
// port + 1 (the server's default, which the chart keeps).
std::string DefaultControlAddress(const std::string& data);

}  // namespace gpupool::controllers
