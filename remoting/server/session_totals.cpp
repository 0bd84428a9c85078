#include "remoting/server/session_totals.h"

namespace gpupool::server {

SessionTotals SessionTotals::Of(const SessionStats& s, std::uint32_t gpu) {
  SessionTotals t;
  if (gpu < SessionStats::kMaxGpus) {
    t.kernels_launched = s.gpus[gpu].kernels_launched.load();
    t.busy_ns = s.gpus[gpu].busy_ns.load();
    t.bytes_to_device = s.gpus[gpu].bytes_to_device.load();
    t.bytes_from_device = s.gpus[gpu].bytes_from_device.load();
  }
  if (gpu != 0) return t;
  for (std::size_t i = 0; i < t.errors_by_result.size(); ++i)
    t.errors_by_result[i] = s.errors_by_result[i].load();
  t.image_cache_hits = s.image_cache_hits.load();
  t.image_cache_misses = s.image_cache_misses.load();
  for (std::size_t c = 0; c < kCallClasses; ++c) {
    for (std::size_t b = 0; b < kDurationBuckets; ++b)
      t.duration_buckets[c][b] = s.durations.buckets[c][b].load();
    t.duration_sum_ns[c] = s.durations.sum_ns[c].load();
  }
  return t;
}

void SessionTotals::Add(const SessionTotals& o) {
  kernels_launched += o.kernels_launched;
  busy_ns += o.busy_ns;
  bytes_to_device += o.bytes_to_device;
  bytes_from_device += o.bytes_from_device;
  for (std::size_t i = 0; i < errors_by_result.size(); ++i) errors_by_result[i] += o.errors_by_result[i];
  image_cache_hits += o.image_cache_hits;
  image_cache_misses += o.image_cache_misses;
  for (std::size_t c = 0; c < kCallClasses; ++c) {
    for (std::size_t b = 0; b < kDurationBuckets; ++b) duration_buckets[c][b] += o.duration_buckets[c][b];
    duration_sum_ns[c] += o.duration_sum_ns[c];
  }
}

}  // namespace gpupool::server
