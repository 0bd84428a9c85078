// WorkQueue: keys (e.g. "<namespace>/<name>") waiting to be reconciled, with client-go's semantics.
//
// - De-duplication: Add() of a key already queued is a no-op.
// - A key is never handed to two workers at once: Add() of a key being processed marks it dirty and
//   it is queued again when the worker calls Done().
// - AddAfter(key, d) queues after d; re-adding a waiting key only moves its time earlier.
// - AddRateLimited(key): per-key exponential backoff, base * 2^failures capped at `cap`
//   (client-go: 5 ms .. 1000 s); Forget(key) resets the count after a success.
// - ShutDown(): further adds are ignored; Get() hands out what is still queued, then returns nullopt.
//   ShutDownWithDrain() also waits until every handed-out key is Done().
//
// Thread-safety: all methods are safe to call concurrently; Get() blocks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace gpupool::kube {

struct RateLimit {
  std::chrono::milliseconds base{5};
  std::chrono::milliseconds cap{std::chrono::seconds(1000)};
};

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WorkQueue(RateLimit limit = {});
  ~WorkQueue();  // ShutDown() and joins the delay thread
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::milliseconds delay);
  void AddRateLimited(const std::string& key);
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;
  // The delay the next AddRateLimited(key) would use.
  std::chrono::milliseconds NextDelay(const std::string& key) const;

  // Blocks until a key is ready; nullopt once shut down and empty.
  std::optional<std::string> Get();
  // Like Get() but gives up after `timeout` (nullopt).
  std::optional<std::string> GetFor(std::chrono::milliseconds timeout);
  void Done(const std::string& key);

  void ShutDown();
  void ShutDownWithDrain();
  bool ShuttingDown() const;
  size_t Len() const;      // keys ready to be handed out
  size_t Waiting() const;  // keys waiting for their AddAfter time

 private:
  void AddLocked(const std::string& key);
  std::optional<std::string> PopLocked();  // the next ready key, now being processed
  void DelayLoop();

  RateLimit limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;        // queue_ changed or shutting down
  std::condition_variable delay_cv_;  // waiting_ changed or shutting down
  std::condition_variable done_cv_;   // processing_ shrank
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;
  std::set<std::string> processing_;
  std::map<std::string, Clock::time_point> waiting_;  // key -> ready time
  std::map<std::string, int> failures_;
  bool shutting_down_ = false;
  std::thread delay_thread_;
};

}  // namespace gpupool::kube
