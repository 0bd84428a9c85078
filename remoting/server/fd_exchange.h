// FdExchange: how one session worker hands another a file descriptor it exported. The driver answers
// cuMemExportToShareableHandle with a POSIX descriptor of the exporting process; the importing session's
// worker, another process, needs its own copy to give cuMemImportFromShareableHandle. An exporting
// worker listens on an abstract Unix socket named after its broker and its session; an importer
// connects, sends the export's token and receives the descriptor (SCM_RIGHTS), or a refusal.
//
// The token is the capability: the importer found it in the IpcDirectory, which checked that both
// sessions belong to one pod. The exchange also refuses peers of another user. Abstract sockets live in
// the server's network namespace (its pod, in Kubernetes), out of clients' reach.
//
// Thread-safety: Offer, Withdraw and Dup from the worker's thread; the listening thread serves
// connections meanwhile (one mutex guards the descriptors). Fetch from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/ipc_directory.h"

namespace gpupool::server {

class FdExchange {
 public:
  // The exchange of session `session` of this process's broker (the parent of every worker).
  explicit FdExchange(std::uint64_t session) : session_(session) {}
  ~FdExchange();
  FdExchange(const FdExchange&) = delete;
  FdExchange& operator=(const FdExchange&) = delete;

  // Offers `fd`, which the exchange owns from now on (closed on failure too), under `token`. The first
  // offer starts listening.
  Status Offer(const IpcToken& token, int fd);
  // Stops offering `token` and closes its descriptor.
  void Withdraw(const IpcToken& token);
  // A new descriptor for this session's own export `token` (close-on-exec), or -1.
  int Dup(const IpcToken& token) const;

  // A new descriptor (owned by the caller) for export `token` of session `session`, from that
  // session's worker. NotFound when it offers no such token, Unavailable when it does not answer in
  // `timeout`.
  static Result<int> Fetch(std::uint64_t session, const IpcToken& token, std::chrono::milliseconds timeout);

 private:
  // The listening socket, and the thread that serves it until stop_fd_ is signalled.
  Status Listen();
  void Serve();
  void Answer(protocol::Connection& connection);

  const std::uint64_t session_;
  mutable std::mutex mu_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, int> offered_;  // token -> descriptor; guarded by mu_
  std::optional<protocol::Listener> listener_;
  int stop_fd_ = -1;  // an eventfd: the destructor's signal to the thread
  std::thread thread_;
};

}  // namespace gpupool::server
