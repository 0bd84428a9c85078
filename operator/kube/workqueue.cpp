#include "operator/kube/workqueue.h"

#include <algorithm>
#include <cmath>

namespace gpupool::kube {

WorkQueue::WorkQueue(RateLimit limit) : limit_(limit) {
  delay_thread_ = std::thread([this] { DelayLoop(); });
}

WorkQueue::~WorkQueue() {
  ShutDown();
  if (delay_thread_.joinable()) delay_thread_.join();
}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_ || dirty_.count(key)) return;
  dirty_.insert(key);
  if (processing_.count(key)) return;  // queued again by Done()
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  if (delay.count() <= 0) return AddLocked(key);
  auto at = Clock::now() + delay;
  auto it = waiting_.find(key);
  if (it != waiting_.end() && it->second <= at) return;  // only ever moves earlier
  waiting_[key] = at;
  delay_cv_.notify_one();
}

std::chrono::milliseconds WorkQueue::NextDelay(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  int n = it == failures_.end() ? 0 : it->second;
  double ms = static_cast<double>(limit_.base.count()) * std::pow(2.0, std::min(n, 62));
  return std::chrono::milliseconds(
      static_cast<long long>(std::min(ms, static_cast<double>(limit_.cap.count()))));
}

void WorkQueue::AddRateLimited(const std::string& key) {
  auto delay = NextDelay(key);
  {
    std::lock_guard lock(mu_);
    ++failures_[key];
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::PopLocked() {
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty() || shutting_down_; });
  return PopLocked();
}

std::optional<std::string> WorkQueue::GetFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return !queue_.empty() || shutting_down_; });
  return PopLocked();
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
  done_cv_.notify_all();
}

void WorkQueue::ShutDown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  waiting_.clear();
  cv_.notify_all();
  delay_cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  ShutDown();
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t WorkQueue::Waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

void WorkQueue::DelayLoop() {
  std::unique_lock lock(mu_);
  while (!shutting_down_) {
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second <= now) {
        std::string key = it->first;
        it = waiting_.erase(it);
        AddLocked(key);
      } else {
        next = std::min(next, it->second);
        ++it;
      }
    }
    if (next == Clock::time_point::max()) {
      delay_cv_.wait(lock);
    } else {
      delay_cv_.wait_until(lock, next);
    }
  }
}

}  // namespace gpupool::kube
