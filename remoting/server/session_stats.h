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

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "remoting/protocol/result_names.h"
#include "remoting/server/request_durations.h"
#include "remoting/server/shared_memory.h"

namespace gpupool::server {

// One GPU of a session. The broker fills in what was admitted before the worker starts serving
// (uuid, percent, share_slot, memory_limit_bytes); the worker keeps the rest current. A session
// admitted on several GPUs of this server sees them as device ordinals 0, 1, … in this order, each
// with its own memory limit and compute share. A session admitted on no GPU in particular (no pod,
// or a pod admitted without shares) has one entry with an empty uuid: its memory limit holds on each
// GPU it sees, its compute share covers them all, and what it does is counted on the server's first
// GPU.
struct SessionGpu {
  std::string_view Uuid() const { return {uuid, ::strnlen(uuid, sizeof uuid)}; }

  char uuid[64] = {};
  std::atomic<std::uint32_t> percent{0};               // compute share; 0: none
  std::atomic<std::uint32_t> share_slot{0xffffffffu};  // its ShareTable slot (ShareTable::kNoSlot: none)
  std::atomic<std::uint64_t> memory_limit_bytes{0};    // 0: none
  std::atomic<std::uint64_t> memory_used_bytes{0};
  std::atomic<std::uint64_t> kernels_launched{0};
  std::atomic<std::uint64_t> busy_ns{0};  // measured kernel run time (KernelClock)
  // Bytes the program copied to and from device memory, counted on the device whose context issued
  // the copy.
  std::atomic<std::uint64_t> bytes_to_device{0};
  std::atomic<std::uint64_t> bytes_from_device{0};
};

struct SessionStats {
  static constexpr std::uint32_t kMaxGpus = 16;

  // Counts an error returned to the client.
  void CountError(std::uint32_t result) {
    errors_by_result[protocol::ResultIndex(result)].fetch_add(1, std::memory_order_relaxed);
  }
  // The admitted GPUs (at least one entry once the broker has filled them in).
  std::uint32_t gpu_count() const { return std::min(gpus_admitted.load(), kMaxGpus); }
  // Sums over the session's GPUs.
  std::uint64_t MemoryUsed() const;
  std::uint64_t MemoryLimit() const;  // 0 when any of them has none
  std::uint64_t KernelsLaunched() const;
  std::uint64_t BusyNs() const;
  std::uint64_t BytesToDevice() const;
  std::uint64_t BytesFromDevice() const;

  std::atomic<std::uint32_t> gpus_admitted{0};
  SessionGpu gpus[kMaxGpus];
  // Errors returned to the client, by CUresult (protocol::ResultIndex; the last slot: not a CUresult).
  std::atomic<std::uint64_t> errors_by_result[protocol::kResultCount + 1] = {};
  std::atomic<std::uint64_t> image_cache_hits{0};    // ImageQuery found the image
  std::atomic<std::uint64_t> image_cache_misses{0};  // ImageQuery did not: the client uploads it
  std::atomic<std::uint64_t> image_cache_bytes{0};   // held by the session's image cache
  std::atomic<std::uint64_t> mapped_host_bytes{0};   // pinned host memory it registered (mapped_arena.h)
  RequestDurations durations;
  std::atomic<std::uint32_t> end_reason{0};            // SessionEnd, set by the worker as the session ends
  std::atomic<std::uint32_t> protocol_error{0};        // ProtocolError, when end_reason is kProtocolError
  static constexpr std::uint32_t kRevoked = 1;         // Control Revoke: PermissionDenied
  static constexpr std::uint32_t kServerStopping = 2;  // broker shutdown: Unavailable
  std::atomic<std::uint32_t> revoked{0};               // 0, kRevoked or kServerStopping
  char revoke_reason[256] = {};
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
