// ShareLimiter: time-sliced kernel admission — holds a session's launches back so that its kernels
// occupy at most `percent` % of its GPU's time while other sessions want the GPU
// (docs/compute-share.md has the choice and the measurements).
//
// A token bucket in nanoseconds of kernel time: it fills at percent/100 ns per ns of wall time up to
// kBurst; a launch is admitted while the bucket is positive and is charged the recent mean run time
// (KernelClock); when the kernel has finished, the charge is corrected to its measured run time. A
// launch that finds the bucket empty waits — the worker thread stops reading the client's frames,
// which back-pressures the client — unless idle capacity may be used (`--share-idle on`) and no
// other session on the same GPU has wanted GPU time in the last kIdleWindow (ShareTable).
//
// Thread-safety: Admit is called by the session's thread only.
#pragma once

#include <cstdint>

#include "remoting/server/kernel_clock.h"
#include "remoting/server/share_table.h"

namespace gpupool::server {

class ShareLimiter {
 public:
  static constexpr std::uint64_t kBurstNs = 20'000'000;        // kernel time a session may bank
  static constexpr std::uint64_t kIdleWindowNs = 100'000'000;  // quiet this long = not competing
  static constexpr std::uint64_t kFirstEstimateNs = 1'000'000;

  // `percent` 1..99 (100 or 0 need no limiter); `table`/`slot` may be null/kNoSlot (never alone).
  ShareLimiter(std::uint32_t percent, bool use_idle, KernelClock* clock, ShareTable* table,
               std::uint32_t slot);

  // Blocks until the next launch may go; returns what it is charged (for KernelClock::End).
  std::uint64_t Admit();

 private:
  // Adds the tokens earned since the last call and corrects finished kernels' charges.
  KernelClock::Totals Refill(std::uint64_t now_ns);

  double rate_;  // percent / 100
  bool use_idle_;
  KernelClock* clock_;
  ShareTable* table_;
  std::uint32_t slot_;
  double tokens_ns_ = static_cast<double>(kBurstNs);
  std::uint64_t last_ns_ = 0;
  std::uint64_t seen_busy_ns_ = 0, seen_estimate_ns_ = 0;  // KernelClock totals already applied
};

}  // namespace gpupool::server
