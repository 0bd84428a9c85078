// ComputeShare: what a session worker does around every kernel launch — tell the other workers of
// its GPU that it wants GPU time (ShareTable), wait for admission under its compute share
// (ShareLimiter, only for shares of 1..99 %), and measure the kernel (KernelClock), adding its run
// time to the session's busy-time counter for /metrics.
//
// Thread-safety: Launch and Forget from the session's thread; clock() is also the watchdog's.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <memory>

#include "remoting/server/driver_api.h"
#include "remoting/server/kernel_clock.h"
#include "remoting/server/session_stats.h"
#include "remoting/server/share_limiter.h"
#include "remoting/server/share_table.h"

namespace gpupool::server {

struct ComputeShareOptions {
  std::uint32_t percent = 0;  // 0 (no share given) and 100: never held back
  bool use_idle = true;       // --share-idle
  ShareTable* table = nullptr;
  std::uint32_t slot = ShareTable::kNoSlot;
  SessionGpu* stats = nullptr;  // the GPU's entry in the session's stats: busy_ns goes here; may be null
};

class ComputeShare {
 public:
  ComputeShare(const DriverApi& api, const ComputeShareOptions& options);

  // Runs `launch` (which calls the driver's launch on `stream`) under admission and measurement.
  template <typename F>
  CUresult Launch(CUstream stream, F&& launch) {
    const std::uint64_t now = ShareTable::NowNs();
    if (options_.table != nullptr) options_.table->Touch(options_.slot, now);
    const std::uint64_t charge = limiter_ ? limiter_->Admit() : 0;
    KernelClock::Mark mark = clock_.Begin(stream);
    CUresult r = launch();
    clock_.End(mark, r == CUDA_SUCCESS, charge);
    return r;
  }
  // After a synchronising call: collects the kernels it waited for, so the session's busy time is
  // current when the client sees the call return (not only at the next launch or watchdog tick).
  void Collect() { (void)clock_.Poll(ShareTable::NowNs()); }
  // Before a context may be destroyed, and at session end: measurements in flight are dropped.
  void Forget() { clock_.Forget(ShareTable::NowNs()); }
  KernelClock& clock() { return clock_; }

 private:
  ComputeShareOptions options_;
  KernelClock clock_;
  std::unique_ptr<ShareLimiter> limiter_;
};

}  // namespace gpupool::server
