#include "remoting/server/kernel_clock.h"

#include <algorithm>

namespace gpupool::server {
namespace {

constexpr std::size_t kScanLimit = 256;  // entries looked at per poll: kernels mostly finish in order
constexpr double kMeanWeight = 1.0 / 8;  // weight of the newest run time in the running mean

#define CLOCK_DRIVER(fn, ...) (api_.fn == nullptr ? CUDA_ERROR_NOT_SUPPORTED : api_.fn(__VA_ARGS__))

}  // namespace

KernelClock::KernelClock(const DriverApi& api, std::function<void(std::uint64_t)> on_done)
    : api_(api), on_done_(std::move(on_done)) {}

KernelClock::~KernelClock() {
  Forget(0);
}

CUevent KernelClock::TakeEvent(CUcontext ctx) {
  auto& free = pool_[ctx];
  if (!free.empty()) {
    CUevent e = free.back();
    free.pop_back();
    return e;
  }
  CUevent e = nullptr;
  if (CLOCK_DRIVER(cuEventCreate, &e, CU_EVENT_DEFAULT) != CUDA_SUCCESS) return nullptr;
  return e;
}

void KernelClock::Recycle(CUcontext ctx, CUevent e) {
  if (e != nullptr) pool_[ctx].push_back(e);
}

KernelClock::Mark KernelClock::Begin(CUstream stream) {
  std::lock_guard<std::mutex> lock(mu_);
  Mark mark;
  if (pending_.size() >= kMaxPending) return mark;
  if (CLOCK_DRIVER(cuCtxGetCurrent, &mark.ctx) != CUDA_SUCCESS || mark.ctx == nullptr) return mark;
  CUevent start = TakeEvent(mark.ctx);
  if (start == nullptr) return mark;
  if (CLOCK_DRIVER(cuEventRecord, start, stream) != CUDA_SUCCESS) {
    Recycle(mark.ctx, start);
    return mark;
  }
  mark.start = start;
  mark.stream = stream;
  return mark;
}

void KernelClock::End(const Mark& mark, bool launched, std::uint64_t estimate_ns) {
  if (mark.start == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  CUevent end = launched ? TakeEvent(mark.ctx) : nullptr;
  if (end == nullptr || CLOCK_DRIVER(cuEventRecord, end, mark.stream) != CUDA_SUCCESS) {
    Recycle(mark.ctx, mark.start);
    Recycle(mark.ctx, end);
    return;
  }
  pending_.push_back({mark.ctx, mark.start, end, estimate_ns, 0});
}

void KernelClock::Collect(std::uint64_t now_ns) {
  if (pending_.empty()) return;
  // The watchdog's thread has no context of its own: event calls run with the kernel's context
  // pushed, and the calling thread's stack is restored afterwards.
  CUcontext current = nullptr;
  (void)CLOCK_DRIVER(cuCtxGetCurrent, &current);
  CUcontext pushed = nullptr;
  std::size_t scanned = 0;
  for (auto it = pending_.begin(); it != pending_.end() && scanned < kScanLimit; ++scanned) {
    if (it->ctx != current && it->ctx != pushed) {
      if (pushed != nullptr) (void)CLOCK_DRIVER(cuCtxPopCurrent_v2, &pushed);
      pushed = CLOCK_DRIVER(cuCtxPushCurrent_v2, it->ctx) == CUDA_SUCCESS ? it->ctx : nullptr;
    }
    CUresult done = CLOCK_DRIVER(cuEventQuery, it->end);
    if (done == CUDA_ERROR_NOT_READY) {
      if (it->running_since_ns == 0 && CLOCK_DRIVER(cuEventQuery, it->start) == CUDA_SUCCESS)
        it->running_since_ns = now_ns;
      ++it;
      continue;
    }
    float ms = 0;
    if (done == CUDA_SUCCESS &&
        CLOCK_DRIVER(cuEventElapsedTime_v2, &ms, it->start, it->end) == CUDA_SUCCESS) {
      const auto ns = static_cast<std::uint64_t>(std::max(0.0, static_cast<double>(ms) * 1e6));
      ++totals_.finished;
      totals_.busy_ns += ns;
      totals_.estimate_ns += it->estimate_ns;
      mean_ns_ = mean_ns_ == 0 ? static_cast<double>(ns)
                               : mean_ns_ + kMeanWeight * (static_cast<double>(ns) - mean_ns_);
      if (on_done_) on_done_(ns);
      Recycle(it->ctx, it->start);
      Recycle(it->ctx, it->end);
    } else {
      // The context failed (a kernel fault is sticky): its events can no longer time anything.
      (void)CLOCK_DRIVER(cuEventDestroy_v2, it->start);
      (void)CLOCK_DRIVER(cuEventDestroy_v2, it->end);
    }
    it = pending_.erase(it);
  }
  if (pushed != nullptr) (void)CLOCK_DRIVER(cuCtxPopCurrent_v2, &pushed);
}

KernelClock::Totals KernelClock::Poll(std::uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  Collect(now_ns);
  Totals t = totals_;
  t.in_flight = pending_.size();
  t.mean_ns = static_cast<std::uint64_t>(mean_ns_);
  return t;
}

std::uint64_t KernelClock::RunningNs(std::uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  Collect(now_ns);
  std::uint64_t longest = 0;
  for (const Pending& p : pending_) {
    if (p.running_since_ns != 0 && now_ns > p.running_since_ns)
      longest = std::max(longest, now_ns - p.running_since_ns);
  }
  return longest;
}

void KernelClock::Forget(std::uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now_ns != 0) Collect(now_ns);
  for (const Pending& p : pending_) {
    (void)CLOCK_DRIVER(cuEventDestroy_v2, p.start);
    (void)CLOCK_DRIVER(cuEventDestroy_v2, p.end);
  }
  pending_.clear();
  for (auto& [ctx, events] : pool_) {
    for (CUevent e : events) (void)CLOCK_DRIVER(cuEventDestroy_v2, e);
  }
  pool_.clear();
}

}  // namespace gpupool::server
