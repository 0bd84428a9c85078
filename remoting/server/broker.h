// Broker: accepts client connections on TCP and the Unix socket, runs each handshake (with a
// deadline, on its own short-lived thread, so a slow client holds neither the accept loop nor
// anyone else), checks who the client is (shared token, or the pod's service-account token through
// PodTokenReview) and the pod's admission, and hands the connection to a new worker
// process. The broker itself never opens the backend (CUDA does not survive fork). On a TLS server
// a TCP connection's worker starts first and runs TLS; the broker checks the Hello it forwards
// (tls_handshake.h, broker_tls.cpp).
//
// Thread-safety: Listen, then Start, from one thread; the accept and handshake threads share only
// the Registry (thread-safe) and immutable options.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "remoting/protocol/handshake.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/pod_token_review.h"
#include "remoting/server/registry.h"
#include "remoting/server/server_flags.h"
#include "remoting/server/spawn.h"

namespace gpupool::server {

class Broker {
 public:
  // `pod_tokens`: set when options.pod_token_review (pods prove who they are with their token).
  Broker(ServerOptions options, Registry* registry, Reaper* reaper,
         std::shared_ptr<PodTokenReview> pod_tokens = nullptr);

  // Binds the listen address (and the Unix socket). endpoint() then has the real port.
  Status Listen();
  const Endpoint& endpoint() const;
  // Starts one accept thread per listener; returns at once.
  void Start();

 private:
  void AcceptLoop(protocol::Listener* listener);
  void Handshake(protocol::Connection conn, std::string peer);
  void HandshakeTls(protocol::Connection conn, std::string peer);
  using Clock = std::chrono::steady_clock;
  // What a Hello was admitted to.
  struct Admission {
    std::string pod_uid;  // proven by the pod's token, or claimed in a Hello with the shared token
    std::string pod_namespace, pod_name;
    std::vector<ShareRecord> gpus;  // its shares of this server's GPUs; one with no uuid for none
  };
  Status CheckSharedToken(const protocol::Hello& hello) const;
  // The UID of the pod the Hello's pod token is bound to (TokenReview), which the claimed UID, when
  // there is one, must equal.
  Result<std::string> ProvePod(const protocol::Hello& hello, Clock::time_point deadline,
                               AuthFailure* why) const;
  // Who the client is and what its pod was admitted to; on refusal *why says which rule.
  Status Admit(const protocol::Hello& hello, Clock::time_point deadline, Admission* out,
               AuthFailure* why) const;
  // Admit (counting a refusal in gpupool_auth_failures_total), then the session's record (all but
  // id, pid and stats). `deadline`: the handshake's, which a TokenReview must not outlast.
  Result<SessionRecord> Decide(const protocol::Hello& hello, const std::string& peer,
                               Clock::time_point deadline) const;
  // Leaves what `record` was admitted to (its GPUs, their limits and shares, its pod) in its stats
  // block, where the worker reads it, and claims a ShareTable slot per GPU. Spawn mutex held.
  void PublishAdmission(SessionRecord* record) const;

  ServerOptions options_;
  Registry* registry_;
  Reaper* reaper_;
  std::vector<std::unique_ptr<protocol::Listener>> listeners_;
  std::shared_ptr<PodTokenReview> pod_tokens_;
  std::atomic<int> handshakes_{0};
};

}  // namespace gpupool::server
