// KernelClock: measures how long a session's kernels run on the GPU — an event recorded on the
// launch's stream just before the kernel and one just after; when the second has completed, the
// elapsed time between them is the kernel's run time (docs/compute-share.md). On the emulated
// device the same events read its simulated timeline, so the code path is the same on both.
//
// It also says for how long the oldest unfinished kernel has been running (its start event has
// completed, its end event not yet): the hang watchdog's input.
//
// The elapsed time includes the time the GPU gave to other contexts while the kernel was resident
// (time slicing), and kernels of one session running concurrently on several streams are each
// counted in full: busy time can exceed wall time then. Both are documented limits. Timing needs
// cuEventElapsedTime_v2 (drivers of CUDA 12.8 and later; CUDA 13 needs them anyway): without it
// kernels are not measured and a share is charged by the first estimate only.
//
// Thread-safety: every method takes the clock's mutex, so the session's thread (Begin/End/Poll) and
// the watchdog's (Poll/RunningNs) may call concurrently. Driver calls made under it are event
// queries and records only.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "remoting/server/driver_api.h"

namespace gpupool::server {

class KernelClock {
 public:
  // `on_done(ns)` is called (mutex held) with the run time of every finished kernel.
  KernelClock(const DriverApi& api, std::function<void(std::uint64_t)> on_done);
  ~KernelClock();
  KernelClock(const KernelClock&) = delete;
  KernelClock& operator=(const KernelClock&) = delete;

  struct Mark {
    CUcontext ctx = nullptr;
    CUevent start = nullptr;  // nullptr: not measured (no context, out of events)
    CUstream stream = nullptr;
  };
  // Before a launch on `stream` of the calling thread's current context.
  Mark Begin(CUstream stream);
  // After it: `launched` says whether the driver accepted it; `estimate_ns` is what the share
  // limiter charged for it (reported back in Totals when it finishes).
  void End(const Mark& mark, bool launched, std::uint64_t estimate_ns);

  struct Totals {
    std::uint64_t finished = 0;     // kernels measured to the end
    std::uint64_t busy_ns = 0;      // their run time
    std::uint64_t estimate_ns = 0;  // what was charged for them at launch
    std::uint64_t in_flight = 0;    // launched, not finished
    std::uint64_t mean_ns = 0;      // recent mean run time (0 before the first kernel finished)
  };
  // Collects finished kernels. `now_ns` (steady clock) is when their start was first seen complete.
  Totals Poll(std::uint64_t now_ns);
  // How long the oldest running kernel has been seen running at `now_ns`; 0 when none runs.
  std::uint64_t RunningNs(std::uint64_t now_ns);
  // Drops every pending measurement and pooled event (a context is about to be destroyed, or the
  // session ends). Finished kernels are collected first.
  void Forget(std::uint64_t now_ns);

 private:
  struct Pending {
    CUcontext ctx;
    CUevent start, end;
    std::uint64_t estimate_ns;
    std::uint64_t running_since_ns;  // 0 until its start event was seen complete
  };
  static constexpr std::size_t kMaxPending = 8192;  // beyond that, launches go unmeasured
  CUevent TakeEvent(CUcontext ctx);
  void Recycle(CUcontext ctx, CUevent e);
  void Collect(std::uint64_t now_ns);  // mu_ held

  const DriverApi& api_;
  std::function<void(std::uint64_t)> on_done_;
  std::mutex mu_;
  std::deque<Pending> pending_;
  std::map<CUcontext, std::vector<CUevent>> pool_;
  Totals totals_;
  double mean_ns_ = 0;
};

}  // namespace gpupool::server
