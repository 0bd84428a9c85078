// SessionStats: a session's live counters, in a small shared-memory block (memfd) that the worker
// writes and the broker reads for ListSessions and /metrics. Plain atomics: no locks across
// processes, and a crashed worker cannot leave one held.
//
// The broker may also ask the worker to end the session (Revoke) through `revoked` and
// `revoke_reason`, followed by SIGTERM.
//
// Thread-safety: every field is atomic, or written once before the other side reads it.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "common/status.h"
#include "remoting/server/shared_memory.h"

namespace gpupool::server {

struct SessionStats {
  std::atomic<std::uint64_t> memory_used_bytes{0};
  std::atomic<std::uint64_t> memory_limit_bytes{0};
  std::atomic<std::uint64_t> kernels_launched{0};
  std::atomic<std::uint64_t> bytes_to_device{0};
  std::atomic<std::uint64_t> bytes_from_device{0};
  std::atomic<std::uint64_t> errors{0};                // calls that returned a CUDA error
  std::atomic<std::uint64_t> busy_ns{0};               // measured kernel run time (KernelClock)
  static constexpr std::uint32_t kRevoked = 1;         // Control Revoke: PermissionDenied
  static constexpr std::uint32_t kServerStopping = 2;  // broker shutdown: Unavailable
  std::atomic<std::uint32_t> revoked{0};               // 0, kRevoked or kServerStopping
  char revoke_reason[256] = {};
};

// A SessionStats mapped from a memfd. The broker creates it (Create) and passes fd() to the worker,
// which maps the same block (Map).
class SharedStats {
 public:
  static Result<SharedStats> Create();
  static Result<SharedStats> Map(int fd);

  SessionStats* get() const { return static_cast<SessionStats*>(memory_.data()); }
  int fd() const { return memory_.fd(); }

 private:
  explicit SharedStats(SharedMemory memory) : memory_(std::move(memory)) {}
  SharedMemory memory_;
};

}  // namespace gpupool::server
