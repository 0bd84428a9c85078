// Broker: accepts client connections on TCP and the Unix socket, runs each handshake (with a
// deadline, on its own short-lived thread, so a slow client holds neither the accept loop nor
// anyone else), checks the token and the pod's admission, and hands the connection to a new worker
// process. The broker itself never opens the backend (CUDA does not survive fork). On a TLS server
// a TCP connection's worker starts first and runs TLS; the broker checks the Hello it forwards
// (tls_handshake.h, broker_tls.cpp).
//
// Thread-safety: Listen, then Start, from one thread; the accept and handshake threads share only
// the Registry (thread-safe) and immutable options.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "remoting/protocol/handshake.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/registry.h"
#include "remoting/server/server_flags.h"
#include "remoting/server/spawn.h"

namespace gpupool::server {

class Broker {
 public:
  Broker(ServerOptions options, Registry* registry, Reaper* reaper);

  // Binds the listen address (and the Unix socket). endpoint() then has the real port.
  Status Listen();
  const Endpoint& endpoint() const;
  // Starts one accept thread per listener; returns at once.
  void Start();

 private:
  void AcceptLoop(protocol::Listener* listener);
  void Handshake(protocol::Connection conn, std::string peer);
  void HandshakeTls(protocol::Connection conn, std::string peer);
  Status Admit(const protocol::Hello& hello, std::uint64_t* memory_limit, std::string* gpu_uuid,
               std::uint32_t* percent) const;
  // Admit, then the session's record (all but id, pid and stats).
  Result<SessionRecord> Decide(const protocol::Hello& hello, const std::string& peer,
                               std::uint64_t* memory_limit) const;
  // Counts a refused Hello by its cause (gpupool_auth_failures_total).
  void CountRefusal(const Status& refusal) const;

  ServerOptions options_;
  Registry* registry_;
  Reaper* reaper_;
  std::vector<std::unique_ptr<protocol::Listener>> listeners_;
  std::atomic<int> handshakes_{0};
};

}  // namespace gpupool::server
