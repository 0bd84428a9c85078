// FakeControlServer: an in-process gpupool-server Control service (proto/gpupool/control/v1) for tests
// of its clients (operator, CLI). It reports the inventory a test sets, applies Admit/Revoke to that
// inventory's allocation counters as a real server would, records every call, and can be stopped and
// restarted on the same port to simulate an unreachable server, or hang to simulate a stuck one.
//
// Thread-safety: all methods may be called from any thread while the server runs.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gpupool/control/v1/control.grpc.pb.h"

namespace grpc {
class Server;
}

namespace gpupool::testing {

class FakeControlServer {
 public:
  // A fake GPU: uuid "GPU-<server_tag>-<index>", model "NVIDIA H200", `memory_bytes` of memory.
  static control::v1::Gpu MakeGpu(const std::string& server_tag, int index,
                                  std::uint64_t memory_bytes = 141ULL << 30);

  FakeControlServer();
  ~FakeControlServer();
  FakeControlServer(const FakeControlServer&) = delete;
  FakeControlServer& operator=(const FakeControlServer&) = delete;

  // Listens on 127.0.0.1; the first Start picks a free port, later Starts reuse it.
  void Start();
  void Stop();
  bool running() const;
  // "127.0.0.1:PORT".
  std::string address() const;

  void SetInventory(control::v1::Inventory inventory);
  control::v1::Inventory inventory() const;
  // Accept connections but answer no call until SetHang(false) (a stuck server): each call waits
  // for its caller's deadline.
  void SetHang(bool hang);
  // Refuse Admit with RESOURCE_EXHAUSTED (a server that has lost capacity).
  void SetRefuseAdmit(bool refuse);
  void SetSessions(std::vector<control::v1::Session> sessions);

  std::vector<control::v1::AdmitRequest> admits() const;
  std::vector<control::v1::RevokeRequest> revokes() const;
  // Current admissions (pod UID → shares), as ListAdmissions reports them.
  std::vector<control::v1::Admission> admissions() const;

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  mutable std::mutex mu_;
};

}  // namespace gpupool::testing
