#include "remoting/server/share_limiter.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace gpupool::server {
namespace {

constexpr std::uint64_t kMaxWaitNs = 2'000'000;  // re-check at least this often while held back

}  // namespace

ShareLimiter::ShareLimiter(std::uint32_t percent, bool use_idle, KernelClock* clock, ShareTable* table,
                           std::uint32_t slot)
    : rate_(std::clamp(percent, 1u, 100u) / 100.0),
      use_idle_(use_idle),
      clock_(clock),
      table_(table),
      slot_(slot) {}

KernelClock::Totals ShareLimiter::Refill(std::uint64_t now_ns) {
  if (last_ns_ != 0 && now_ns > last_ns_) tokens_ns_ += rate_ * static_cast<double>(now_ns - last_ns_);
  last_ns_ = now_ns;
  // Replace what finished kernels were charged at launch by what they really took.
  KernelClock::Totals t = clock_->Poll(now_ns);
  tokens_ns_ +=
      static_cast<double>(t.estimate_ns - seen_estimate_ns_) - static_cast<double>(t.busy_ns - seen_busy_ns_);
  seen_estimate_ns_ = t.estimate_ns;
  seen_busy_ns_ = t.busy_ns;
  tokens_ns_ = std::min(tokens_ns_, static_cast<double>(kBurstNs));
  return t;
}

std::uint64_t ShareLimiter::Admit() {
  while (true) {
    const std::uint64_t now = ShareTable::NowNs();
    KernelClock::Totals t = Refill(now);
    if (table_ != nullptr) table_->Touch(slot_, now);
    const std::uint64_t estimate = t.mean_ns != 0 ? t.mean_ns : kFirstEstimateNs;
    if (tokens_ns_ > 0) {
      tokens_ns_ -= static_cast<double>(estimate);
      return estimate;
    }
    // Alone on the GPU: idle capacity may be used, with at most a burst of work queued so that a
    // session that arrives is not stuck behind a long queue, and without debt that would starve
    // this session once it is no longer alone.
    const bool alone = use_idle_ && table_ != nullptr && !table_->OthersActive(slot_, now, kIdleWindowNs);
    if (alone && static_cast<double>(t.in_flight * estimate) < static_cast<double>(kBurstNs)) {
      tokens_ns_ = std::max(tokens_ns_ - static_cast<double>(estimate), -static_cast<double>(kBurstNs));
      return estimate;
    }
    // Held back: wait until the bucket refills (or a kernel finishes and corrects it).
    const double wait = alone ? 200'000.0 : -tokens_ns_ / rate_;
    const auto ns = static_cast<std::uint64_t>(std::clamp(wait, 50'000.0, static_cast<double>(kMaxWaitNs)));
    std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
  }
}

}  // namespace gpupool::server
