#include "operator/http/body_stream.h"

#include <utility>

namespace gpupool::http {

bool BodyStream::Write(std::string data) {
  std::unique_lock lock(mu_);
  if (abandoned_ || closed_) return false;
  if (data.empty()) return true;
  queued_ += data;
  Wake(lock);
  return true;
}

void BodyStream::Close() {
  std::unique_lock lock(mu_);
  if (closed_) return;
  closed_ = true;
  Wake(lock);
}

std::size_t BodyStream::Unsent() const {
  std::lock_guard lock(mu_);
  return queued_.size();
}

bool BodyStream::Abandoned() const {
  std::lock_guard lock(mu_);
  return abandoned_;
}

void BodyStream::Attach(std::function<void()> wake) {
  std::unique_lock lock(mu_);
  wake_ = std::move(wake);
  woken_ = false;
  if (!queued_.empty() || closed_) Wake(lock);
}

BodyStream::Taken BodyStream::Take() {
  std::lock_guard lock(mu_);
  woken_ = false;
  Taken taken;
  taken.data.swap(queued_);
  taken.end = closed_ && taken.data.empty();
  return taken;
}

void BodyStream::Abandon() {
  std::lock_guard lock(mu_);
  abandoned_ = true;
  queued_.clear();
  wake_ = nullptr;
}

// The connection may be finishing on another thread: it is called without the lock, so that it may
// take locks of its own, and once per Take, so that a fast writer does not flood the connection.
void BodyStream::Wake(std::unique_lock<std::mutex>& lock) {
  if (woken_ || !wake_) return;
  woken_ = true;
  std::function<void()> wake = wake_;
  lock.unlock();
  wake();
}

}  // namespace gpupool::http
