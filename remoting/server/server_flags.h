// Command line of gpupool-server (and of its worker and inventory child processes, which the broker
// starts by exec'ing itself with hidden flags).
//
//   gpupool-server --device {cuda,emulated} --listen {HOST:PORT|unix:PATH} [--unix PATH [--unix-mode MODE]
//                  [--unix-gpu-list]] [--token-file F]
//                  [--tls-cert-file F --tls-key-file F [--tls-client-ca-file F]] [--allow-unauthenticated]
//                  [--emulated-gpus N] [--emulated-memory SIZE] [--record-launches PATH]
//                  [--emulated-lost-gpu INDEX]
//                  [--session-memory SIZE] [--control-listen HOST:PORT] [--metrics-listen HOST:PORT]
//                  [--session-mapped-memory SIZE]
//                  [--cuda-library PATH] [--session-percent P] [--share-idle on|off]
//                  [--kernel-timeout DURATION] [--emulated-kernel-time DURATION] [--spin-us N]
//                  [--image-cache-dir DIR [--image-cache-size SIZE]]
//                  [--pod-token-review [--kube-api-server URL [--kube-api-ca-file F]
//                   [--kube-api-token-file F]] [--pod-token-cache-ttl DURATION]
//                   [--control-service-account NAMESPACE:NAME]...]
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/endpoint.h"
#include "common/status.h"
#include "remoting/protocol/tls.h"
#include "remoting/server/backend.h"
#include "remoting/server/pod_token_review.h"

namespace gpupool::server {

struct ServerOptions {
  enum class Role { kBroker, kWorker, kInventory };
  Role role = Role::kBroker;
  std::string device;  // "cuda" or "emulated"
  Endpoint listen;     // TCP, or a Unix socket
  std::optional<Endpoint> unix_socket;
  // --unix-mode: the socket's permission bits after it is created (e.g. 0666 for a socket shared with
  // pods, which still authenticate); unset: as the umask leaves them. Write for group or others needs
  // client authentication or --allow-unauthenticated.
  std::optional<std::uint32_t> unix_mode;
  // --unix-gpu-list: list the GPUs' UUIDs next to the socket (common/local_gpu_list.h) for clients on
  // the node, which skip a server not bound to them before they authenticate. It costs an inventory
  // query at start (a CUDA initialisation in a child process), hence not by default.
  bool unix_gpu_list = false;
  std::optional<Endpoint> control_listen;  // default: the listen port + 1 when that is not 0
  std::optional<Endpoint> metrics_listen;
  std::string token_file;
  protocol::TlsServerFiles tls;  // cert_file set: TLS on every TCP connection (the Unix socket stays plain)
  std::string cuda_library;
  EmulatedConfig emulated;
  std::uint64_t session_memory = 0;  // per-session limit outside a cluster; 0: none
  // Pinned host memory a session on this host may map for its GPUs (mapped_arena.h); 0: none.
  std::uint64_t session_mapped_memory = 1ull << 30;
  bool allow_unauthenticated = false;  // listen beyond loopback without client authentication
  std::uint32_t session_percent = 0;   // compute share of sessions not admitted; 0: none (never held back)
  bool share_idle = true;              // a session alone on its GPU may use more than its share
  std::int64_t kernel_timeout_ms = 0;  // the hang watchdog's limit; 0: off
  // How long a session's worker polls its socket for the next request before it sleeps; 0: never.
  std::uint32_t spin_us = 50;
  std::string image_cache_dir;  // images shared by the server's sessions (image_store.h); "": off
  std::uint64_t image_cache_bytes = 8ull << 30;
  // Pods prove who they are with their service-account token, checked by a TokenReview
  // (pod_token_review.h): a Hello without one needs --token-file.
  bool pod_token_review = false;
  KubeApiFlags kube_api;                    // where the TokenReview goes; empty server: in-cluster
  std::int64_t pod_token_cache_ms = 30000;  // how long a positive review is reused; 0: never
  // Service accounts ("NAMESPACE:NAME", the operator's) whose token, accepted by the TokenReview, lets
  // a caller use the Control API (control_access.h).
  std::vector<std::string> control_service_accounts;
  bool emulated_flags_given = false;
  // Worker role only (hidden flags).
  int worker_fd = -1;
  int stats_fd = -1;
  std::uint64_t session_id = 0;
  int broker_fd = -1;  // TLS sessions: the worker's channel to the broker for the handshake
  int share_table_fd = -1;
  int ipc_directory_fd = -1;  // the broker's IpcDirectory

  bool tls_enabled() const { return !tls.cert_file.empty(); }
  // Clients prove who they are: a shared token, a certificate from the client CA, or their pod's
  // service-account token.
  bool authenticates_clients() const {
    return !token_file.empty() || !tls.client_ca_file.empty() || pod_token_review;
  }
};

// What the broker tells one worker about its session on the command line; what the session was
// admitted to (GPUs, limits, shares) is in its stats block (session_stats.h).
struct WorkerSession {
  int fd = -1;        // the client connection
  int stats_fd = -1;  // SessionStats memfd
  std::uint64_t id = 0;
  int share_table_fd = -1;
  int ipc_directory_fd = -1;
  int broker_fd = -1;  // TLS sessions: the worker's channel to the broker for the handshake
};

inline constexpr const char* kServerUsage =
    "usage: gpupool-server --device {cuda,emulated} --listen {HOST:PORT|unix:PATH} [--unix PATH [--unix-mode "
    "MODE] [--unix-gpu-list]]\n"
    "                      [--token-file FILE]\n"
    "                      [--tls-cert-file FILE --tls-key-file FILE [--tls-client-ca-file FILE]]\n"
    "                      [--allow-unauthenticated]\n"
    "                      [--emulated-gpus N] [--emulated-memory SIZE] [--record-launches PATH]\n"
    "                      [--session-memory SIZE] [--control-listen HOST:PORT] [--metrics-listen "
    "HOST:PORT]\n"
    "                      [--cuda-library PATH] [--emulated-lost-gpu INDEX] [--session-percent P]\n"
    "                      [--share-idle on|off] [--kernel-timeout DURATION] [--emulated-kernel-time "
    "DURATION]\n"
    "                      [--spin-us N (default 50)] [--session-mapped-memory SIZE (default 1GiB)]\n"
    "                      [--image-cache-dir DIR [--image-cache-size SIZE (default 8GiB)]]\n"
    "                      [--pod-token-review [--kube-api-server URL [--kube-api-ca-file FILE]\n"
    "                       [--kube-api-token-file FILE]] [--pod-token-cache-ttl DURATION]\n"
    "                       [--control-service-account NAMESPACE:NAME]...]\n"
    "  --unix-mode: permission bits of the --unix socket (octal, e.g. 0666 for pods of any user on this "
    "node,\n"
    "    who still authenticate); letting others write needs client authentication or "
    "--allow-unauthenticated.\n"
    "  --unix-gpu-list: write the GPUs' UUIDs to PATH.gpus, so clients on this node bound to another server\n"
    "    skip this one without a handshake.\n"
    "  --pod-token-review: a client must send its pod's service-account token (audience gpupool.io),\n"
    "    which a TokenReview must accept and bind to a pod admitted on this server; clients without one\n"
    "    need --token-file. The Kubernetes API is the in-cluster one unless --kube-api-server is given.\n"
    "  --pod-token-cache-ttl: how long an accepted token is not asked again (default 30s, at most 60s,\n"
    "    never past the token's expiry; 0: ask every time).\n"
    "  --control-service-account: a service account (the operator's) whose gpupool.io token may call the\n"
    "    Control API (repeatable).\n"
    "  --spin-us: microseconds a session's worker polls for the client's next request before it sleeps\n"
    "    (0: it sleeps at once); a request that comes within it skips the wake-up.\n"
    "  --session-mapped-memory: pinned host memory a client on this host (Unix socket) may map for its\n"
    "    GPUs (cuMemHostAlloc: zero-copy access by kernels); 0 refuses mapped host memory.\n";

// Parses argv[1..]. Errors name the flag and what was wrong.
Result<ServerOptions> ParseServerArgs(const std::vector<std::string>& args);

// The hidden arguments that make the same binary a session worker / inventory child with the
// broker's device settings. `broker_fd` >= 0: a TLS session, whose worker runs the TLS handshake and
// passes the Hello to the broker through that socket (remoting/server/tls_handshake.h).
std::vector<std::string> WorkerArgs(const ServerOptions& options, const WorkerSession& session);
std::vector<std::string> InventoryArgs(const ServerOptions& options);

// Without client authentication the data and Control ports must not be reachable from other
// machines: a TCP listen or Control address that is not loopback becomes the loopback address of its
// family (same port) unless --allow-unauthenticated. Returns what was changed, for the server to
// say, or "" when nothing was.
std::string RestrictToLoopback(ServerOptions& options);

}  // namespace gpupool::server
