// SessionStats: a session's live counters, in a small shared-memory block (memfd) that the worker
// writes and the broker reads for ListSessions and /metrics. Plain atomics: no locks across
// processes, and a crashed worker cannot leave one held. This block is the only path from a worker
// to the broker's metrics: the worker also leaves here why its session ended, which the broker reads
// when it reaps the worker.
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
#include "remoting/protocol/result_names.h"
#include "remoting/server/request_durations.h"
#include "remoting/server/shared_memory.h"

namespace gpupool::server {

struct SessionStats {
  // Counts an error returned to the client.
  void CountError(std::uint32_t result) {
    errors_by_result[protocol::ResultIndex(result)].fetch_add(1, std::memory_order_relaxed);
  }

  std::atomic<std::uint64_t> memory_used_bytes{0};
  std::atomic<std::uint64_t> memory_limit_bytes{0};
  std::atomic<std::uint64_t> kernels_launched{0};
  std::atomic<std::uint64_t> bytes_to_device{0};
  std::atomic<std::uint64_t> bytes_from_device{0};
  // Errors returned to the client, by CUresult (protocol::ResultIndex; the last slot: not a CUresult).
  std::atomic<std::uint64_t> errors_by_result[protocol::kResultCount + 1] = {};
  std::atomic<std::uint64_t> image_cache_hits{0};    // ImageQuery found the image
  std::atomic<std::uint64_t> image_cache_misses{0};  // ImageQuery did not: the client uploads it
  std::atomic<std::uint64_t> image_cache_bytes{0};   // held by the session's image cache
  RequestDurations durations;
  std::atomic<std::uint32_t> end_reason{0};            // SessionEnd, set by the worker as the session ends
  std::atomic<std::uint32_t> protocol_error{0};        // ProtocolError, when end_reason is kProtocolError
  std::atomic<std::uint64_t> busy_ns{0};               // measured kernel run time (KernelClock)
  static constexpr std::uint32_t kRevoked = 1;         // Control Revoke: PermissionDenied
  static constexpr std::uint32_t kServerStopping = 2;  // broker shutdown: Unavailable
  std::atomic<std::uint32_t> revoked{0};               // 0, kRevoked or kServerStopping
  char revoke_reason[256] = {};
  char admitted_gpu[64] = {};  // TLS sessions: the admitted GPU's UUID, set by the broker before HelloOk
  std::atomic<std::uint32_t> admitted_percent{0};      // TLS sessions: the admitted compute share
  std::atomic<std::uint32_t> share_slot{0xffffffffu};  // TLS sessions: the ShareTable slot (kNoSlot)
  // The pod the session belongs to (its UID, "" outside Kubernetes), set by the broker before HelloOk:
  // only sessions of the same pod may open each other's interprocess handles (ipc_directory.h).
  char pod_uid[64] = {};
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
