#include "deviceplugin/health_poller.h"

#include <chrono>

#include "common/log.h"

namespace gpupool::deviceplugin {
namespace {

const char* Word(bool healthy) {
  return healthy ? "healthy" : "unhealthy";
}

}  // namespace

HealthPoller::HealthPoller(std::unique_ptr<PoolHealthSource> source, std::int64_t interval_ms)
    : source_(std::move(source)), interval_ms_(interval_ms) {
  auto first = source_->Check();
  if (!first.ok()) {
    GPUPOOL_LOG(kWarn) << "pool health unknown (" << first.status().message() << "): advertising healthy";
  }
  initial_ = first.value_or(true);
  GPUPOOL_LOG(kInfo) << "pool health (" << source_->Describe() << "): " << Word(initial_);
}

void HealthPoller::Start(std::function<void(bool)> on_change) {
  thread_ = std::thread([this, on_change = std::move(on_change)] {
    bool last = initial_;
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [&] { return stop_; })) {
      lock.unlock();
      auto now = source_->Check();
      if (!now.ok()) {
        GPUPOOL_LOG(kWarn) << "pool health unknown, keeping " << Word(last) << ": " << now.status().message();
      } else if (*now != last) {
        last = *now;
        GPUPOOL_LOG(kInfo) << "pool health (" << source_->Describe() << "): " << Word(last);
        on_change(last);
      }
      lock.lock();
    }
  });
}

HealthPoller::~HealthPoller() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace gpupool::deviceplugin
