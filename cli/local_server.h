// The gpupool-server that `gpupool run` (and gpupool-bench) start when no --server is given: found
// next to the calling binary, on a private Unix socket in a fresh directory, with the real GPU when
// the machine has an NVIDIA driver and a GPU, else the emulated device. Stopped (SIGTERM, then
// SIGKILL after 5 s) and its directory removed when the LocalServer is destroyed.
//
// Thread-safety: one thread per LocalServer.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace gpupool::cli {

struct LocalServerOptions {
  std::string binary;              // path of gpupool-server
  std::string device;              // "cuda" or "emulated"
  int gpus = 1;                    // emulated only
  std::uint64_t memory_bytes = 0;  // each GPU's share (--session-memory; emulated: also its size); 0: all
  int percent = 0;                 // compute share of the run's sessions (--session-percent); 0: none
};

class LocalServer {
 public:
  // Starts the server and waits (up to 30 s) for its "listening on" line.
  static Result<std::unique_ptr<LocalServer>> Start(const LocalServerOptions& options);
  ~LocalServer();

  // What GPUPOOL_SERVER should say: "unix:/tmp/gpupool-run-XXXX/server.sock".
  const std::string& address() const { return address_; }

 private:
  LocalServer() = default;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string dir_;
  std::string address_;
  std::thread drain_;  // forwards the server's later output to our stderr
};

// The directory holding the running binary (/proc/self/exe).
std::string ExecutableDir();
// True when the machine has an NVIDIA driver (libcuda.so.1 loads) and at least one GPU device node.
bool HasNvidiaGpu();

}  // namespace gpupool::cli
