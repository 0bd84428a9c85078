// The session worker: a process of its own per session (the broker forks and execs it before any
// CUDA call), serving one client connection until it closes, breaks the protocol, or is revoked.
//
// It opens the backend, then reads one frame at a time and hands it to Dispatch. A protocol
// violation gets an Error frame and ends the session; a client that vanishes ends it too. Either
// way the worker frees what the session still holds and exits; the driver frees the rest with the
// process.
//
// Thread-safety: single-threaded; one per process.
#pragma once

#include <cstdint>
#include <string>

#include "remoting/protocol/tls.h"
#include "remoting/server/backend.h"

namespace gpupool::server {

struct WorkerOptions {
  int connection_fd = -1;
  int stats_fd = -1;  // SessionStats memfd from the broker; -1 for none
  std::uint64_t session_id = 0;
  std::string device;  // "cuda" or "emulated"
  std::string cuda_library;
  EmulatedConfig emulated;
  // TLS sessions: the handshake is the worker's (tls_handshake.h). Either way, what the session was
  // admitted to (GPUs, memory limits, compute shares) is in its stats block from the broker.
  int broker_fd = -1;
  protocol::TlsServerFiles tls;
  bool share_idle = true;              // may use idle capacity when alone on its GPU
  std::int64_t kernel_timeout_ms = 0;  // the hang watchdog; 0: off
  std::uint32_t spin_us = 0;           // polls for the next request this long before sleeping
  std::uint64_t mapped_memory = 0;     // pinned host memory the client may map for the GPUs; 0: none
  int share_table_fd = -1;             // the broker's ShareTable; -1: none
  int ipc_directory_fd = -1;           // the broker's IpcDirectory; -1: none (interprocess handles refused)
  std::string image_cache_dir;         // the server's shared images (image_store.h); "": none
  std::uint64_t image_cache_bytes = 0;
};

// Returns the process exit code: 0 when the client ended the session, 1 otherwise.
int RunWorker(const WorkerOptions& options);

// The backend for `device` ("cuda" or "emulated").
Result<std::unique_ptr<Backend>> OpenBackend(const std::string& device, const std::string& cuda_library,
                                             const EmulatedConfig& emulated);

}  // namespace gpupool::server
