// Polls a PoolHealthSource on its own thread and reports changes, so that a slow API server never
// delays the supervisor loop (re-registration after a kubelet restart). The first reading is taken
// synchronously in the constructor, before anything is served, so kubelet's first list is right.
// An error keeps the last known state (healthy if the very first reading fails) and logs a warning.
//
// Thread-safety: `on_change` runs on the poller's thread; the destructor stops and joins it.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "deviceplugin/pool_health.h"

namespace gpupool::deviceplugin {

class HealthPoller {
 public:
  HealthPoller(std::unique_ptr<PoolHealthSource> source, std::int64_t interval_ms);
  ~HealthPoller();
  HealthPoller(const HealthPoller&) = delete;
  HealthPoller& operator=(const HealthPoller&) = delete;

  // The reading taken by the constructor.
  bool initial() const { return initial_; }
  // Starts polling; `on_change(healthy)` is called on every change after the initial reading.
  void Start(std::function<void(bool)> on_change);

 private:
  std::unique_ptr<PoolHealthSource> source_;
  const std::int64_t interval_ms_;
  bool initial_ = true;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gpupool::deviceplugin
