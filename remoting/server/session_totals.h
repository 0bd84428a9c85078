// SessionTotals: the counters of one or more sessions added up — what the broker keeps of sessions
// that ended (per GPU), and what /metrics sums over live ones. One Add for both, so a counter never
// drops or jumps when its session ends.
//
// Thread-safety: a plain value; callers lock.
#pragma once

#include <array>
#include <cstdint>

#include "remoting/protocol/result_names.h"
#include "remoting/server/request_durations.h"
#include "remoting/server/session_stats.h"

namespace gpupool::server {

struct SessionTotals {
  std::uint64_t kernels_launched = 0;
  std::uint64_t busy_ns = 0;  // measured kernel run time
  std::uint64_t bytes_to_device = 0;
  std::uint64_t bytes_from_device = 0;
  std::array<std::uint64_t, protocol::kResultCount + 1> errors_by_result{};
  std::uint64_t image_cache_hits = 0;
  std::uint64_t image_cache_misses = 0;
  std::array<std::array<std::uint64_t, kDurationBuckets>, kCallClasses> duration_buckets{};
  std::array<std::uint64_t, kCallClasses> duration_sum_ns{};

  // A snapshot of one session's live counters on its GPU `gpu` (SessionStats::gpus): that GPU's
  // kernels, busy time and copies; the session's other counters go with its first GPU.
  static SessionTotals Of(const SessionStats& stats, std::uint32_t gpu);
  void Add(const SessionTotals& other);
};

}  // namespace gpupool::server
