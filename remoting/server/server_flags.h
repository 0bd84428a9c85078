// Command line of gpupool-server (and of its worker and inventory child processes, which the broker
// starts by exec'ing itself with hidden flags).
//
//   gpupool-server --device {cuda,emulated} --listen {HOST:PORT|unix:PATH} [--unix PATH] [--token-file F]
//                  [--emulated-gpus N] [--emulated-memory SIZE] [--record-launches PATH]
//                  [--emulated-lost-gpu INDEX]
//                  [--session-memory SIZE] [--control-listen HOST:PORT] [--metrics-listen HOST:PORT]
//                  [--cuda-library PATH]
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/endpoint.h"
#include "common/status.h"
#include "remoting/server/backend.h"

namespace gpupool::server {

struct ServerOptions {
  enum class Role { kBroker, kWorker, kInventory };
  Role role = Role::kBroker;
  std::string device;  // "cuda" or "emulated"
  Endpoint listen;     // TCP, or a Unix socket
  std::optional<Endpoint> unix_socket;
  std::optional<Endpoint> control_listen;  // default: the listen port + 1 when that is not 0
  std::optional<Endpoint> metrics_listen;
  std::string token_file;
  std::string cuda_library;
  EmulatedConfig emulated;
  std::uint64_t session_memory = 0;  // per-session limit outside a cluster; 0: none
  bool emulated_flags_given = false;
  // Worker role only (hidden flags).
  int worker_fd = -1;
  int stats_fd = -1;
  std::uint64_t session_id = 0;
  std::string session_gpu;  // UUID of the admitted GPU: the only one the session sees; empty: all
};

inline constexpr const char* kServerUsage =
    "usage: gpupool-server --device {cuda,emulated} --listen {HOST:PORT|unix:PATH} [--unix PATH] "
    "[--token-file FILE]\n"
    "                      [--emulated-gpus N] [--emulated-memory SIZE] [--record-launches PATH]\n"
    "                      [--session-memory SIZE] [--control-listen HOST:PORT] [--metrics-listen "
    "HOST:PORT]\n"
    "                      [--cuda-library PATH] [--emulated-lost-gpu INDEX]\n";

// Parses argv[1..]. Errors name the flag and what was wrong.
Result<ServerOptions> ParseServerArgs(const std::vector<std::string>& args);

// The hidden arguments that make the same binary a session worker / inventory child with the
// broker's device settings.
std::vector<std::string> WorkerArgs(const ServerOptions& options, int fd, int stats_fd,
                                    std::uint64_t session_id, std::uint64_t memory_limit,
                                    const std::string& gpu_uuid);
std::vector<std::string> InventoryArgs(const ServerOptions& options);

}  // namespace gpupool::server
