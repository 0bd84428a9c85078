#include "remoting/client/stream_order.h"

#include <limits>
#include <thread>

namespace gpupool::client {
namespace {

// The ticket of the host step the calling thread is running: what it may wait for ends below it.
thread_local std::uint64_t t_step_ticket = std::numeric_limits<std::uint64_t>::max();

}  // namespace

StreamOrder::~StreamOrder() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  cv_.notify_all();
  cv_.wait(lock, [this] { return workers_ == 0; });
}

StreamOrder::Queue& StreamOrder::QueueLocked(const StreamKey& key, bool blocking) {
  std::unique_ptr<Queue>& q = queues_[key];
  if (q == nullptr) {
    q = std::make_unique<Queue>();
    q->key = key;
    q->blocking = blocking || key.legacy();
  }
  return *q;
}

bool StreamOrder::DoneLocked(const StreamDep& dep) const {
  auto it = queues_.find(dep.key);
  if (it == queues_.end() || EmptyLocked(*it->second)) return true;
  const Queue& q = *it->second;
  const std::uint64_t below = dep.below == 0 ? next_ticket_ : dep.below;
  return q.items[q.head].ticket >= below;
}

void StreamOrder::LegacyDepsLocked(const StreamKey& key, bool blocking, std::vector<StreamDep>* deps) const {
  // The legacy NULL stream waits for every blocking stream's earlier work, and they for its.
  if (!blocking && !key.legacy()) return;
  for (const auto& [other, q] : queues_) {
    if (other == key || other.context != key.context || EmptyLocked(*q)) continue;
    if (key.legacy() ? q->blocking : other.legacy()) deps->push_back({other, next_ticket_});
  }
}

std::uint64_t StreamOrder::PushLocked(Queue& q, Item item) {
  item.ticket = next_ticket_++;
  const std::uint64_t ticket = item.ticket;
  if (EmptyLocked(q)) {
    q.items.clear();
    q.head = 0;
    busy_.fetch_add(1, std::memory_order_acq_rel);
  }
  q.items.push_back(std::move(item));
  if (!q.worker) {
    q.worker = true;
    ++workers_;
    std::thread([this, key = q.key] { RunQueue(key); }).detach();
  }
  cv_.notify_all();
  return ticket;
}

CUresult StreamOrder::Submit(const StreamKey& key, bool blocking, std::function<CUresult()> send,
                             std::vector<StreamDep> deps, std::uint64_t* ticket) {
  if (ticket != nullptr) *ticket = 0;
  if (!active() && deps.empty()) return send();
  std::unique_lock<std::mutex> lock(mu_);
  for (StreamDep& d : deps) {
    if (d.below == 0) d.below = next_ticket_;  // "everything so far" means so far, not later
  }
  LegacyDepsLocked(key, blocking, &deps);
  std::erase_if(deps, [this](const StreamDep& d) { return DoneLocked(d); });
  auto it = queues_.find(key);
  const bool held = it != queues_.end() && !EmptyLocked(*it->second);
  if (!held && deps.empty()) {
    lock.unlock();
    return send();
  }
  Item item;
  item.deps = std::move(deps);
  item.run = [this, send = std::move(send)] {
    if (CUresult r = send(); r != CUDA_SUCCESS) Latch(r);
  };
  const std::uint64_t t = PushLocked(QueueLocked(key, blocking), std::move(item));
  if (ticket != nullptr) *ticket = t;
  return CUDA_SUCCESS;
}

void StreamOrder::SubmitHost(const StreamKey& key, bool blocking, std::function<void()> step) {
  std::lock_guard<std::mutex> lock(mu_);
  Item item;
  LegacyDepsLocked(key, blocking, &item.deps);
  item.run = std::move(step);
  PushLocked(QueueLocked(key, blocking), std::move(item));
}

bool StreamOrder::SubmitLast(const StreamKey& key, std::function<CUresult()> send) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queues_.find(key);
  if (it == queues_.end()) return false;
  Queue& q = *it->second;
  if (EmptyLocked(q)) {
    // Idle: its worker ends now and the caller sends at once.
    q.closing = true;
    cv_.notify_all();
    return false;
  }
  Item item;
  item.last = true;
  item.run = [this, send = std::move(send)] {
    if (CUresult r = send(); r != CUDA_SUCCESS) Latch(r);
  };
  PushLocked(q, std::move(item));
  q.closing = true;
  return true;
}

bool StreamOrder::HeadReadyLocked(const Queue& q) const {
  if (EmptyLocked(q)) return false;
  for (const StreamDep& d : q.items[q.head].deps) {
    if (!DoneLocked(d)) return false;
  }
  return true;
}

void StreamOrder::RunQueue(StreamKey key) {
  std::unique_lock<std::mutex> lock(mu_);
  Queue* q = queues_.at(key).get();  // stable: only this worker erases it
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || HeadReadyLocked(*q) || (q->closing && EmptyLocked(*q)); });
    if (!HeadReadyLocked(*q)) {
      // The stream was destroyed and its queue has run, or the instance is going away.
      if (q->closing && EmptyLocked(*q)) queues_.erase(key);
      --workers_;
      cv_.notify_all();
      return;
    }
    Item& head = q->items[q->head];
    std::function<void()> run = std::move(head.run);
    const std::uint64_t ticket = head.ticket;
    lock.unlock();
    t_step_ticket = ticket;
    run();
    t_step_ticket = std::numeric_limits<std::uint64_t>::max();
    lock.lock();
    ++q->head;
    if (EmptyLocked(*q)) busy_.fetch_sub(1, std::memory_order_acq_rel);
    if (q->head >= 256) {  // a stream that never empties: drop what ran
      q->items.erase(q->items.begin(), q->items.begin() + static_cast<std::ptrdiff_t>(q->head));
      q->head = 0;
    }
    cv_.notify_all();
  }
}

bool StreamOrder::Done(const StreamKey& key, std::uint64_t below) {
  if (!active()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  return DoneLocked({key, below});
}

CUresult StreamOrder::Wait(const StreamDep& dep) {
  if (!active()) return CUDA_SUCCESS;
  std::unique_lock<std::mutex> lock(mu_);
  std::uint64_t below = dep.below == 0 ? next_ticket_ : dep.below;
  if (DoneLocked({dep.key, below})) return CUDA_SUCCESS;
  if (below > t_step_ticket) {
    // A host step may wait only for older items: those newer than it wait for the step itself.
    if (dep.below != 0) return CUDA_ERROR_NOT_PERMITTED;
    below = t_step_ticket;
  }
  cv_.wait(lock, [&] { return DoneLocked({dep.key, below}); });
  return CUDA_SUCCESS;
}

void StreamOrder::DrainContext(std::uint64_t context, bool blocking_only) {
  if (!active()) return;
  std::unique_lock<std::mutex> lock(mu_);
  const std::uint64_t below = std::min(next_ticket_, t_step_ticket);
  cv_.wait(lock, [&] {
    for (const auto& [key, q] : queues_) {
      if (key.context != context || (blocking_only && !q->blocking)) continue;
      if (!DoneLocked({key, below})) return false;
    }
    return true;
  });
}

void StreamOrder::Latch(CUresult error) {
  CUresult expected = CUDA_SUCCESS;
  latched_.compare_exchange_strong(expected, error);
}

CUresult StreamOrder::TakeLatched() {
  if (latched_.load(std::memory_order_relaxed) == CUDA_SUCCESS) return CUDA_SUCCESS;
  return latched_.exchange(CUDA_SUCCESS);
}

}  // namespace gpupool::client
