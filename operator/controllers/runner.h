// Runner: worker threads that take keys from a WorkQueue and call a Reconciler, with the requeue
// policy written once (STYLE §6, controller-runtime's reconcileHandler):
//   error, retryable          -> AddRateLimited (per-key exponential backoff)
//   error, terminal (InvalidArgument, PermissionDenied, Cancelled) -> Forget, logged
//   delay > 0                 -> Forget, AddAfter(delay)
//   delay 0                   -> Forget
//
// Thread-safety: Start/Stop from the owner. Stop shuts the queue down and joins the workers; keys
// still queued are dropped (the next leader relists anyway).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "operator/kube/workqueue.h"

namespace gpupool::controllers {

// Reads current state for `key` and acts; returns when to look again (0 = only on the next event).
using Reconciler = std::function<Result<std::chrono::milliseconds>(const std::string& key)>;

class Runner {
 public:
  Runner(std::string name, kube::WorkQueue& queue, Reconciler reconcile, int workers,
         std::function<void(const std::string& controller, const Status&)> on_error = nullptr);
  ~Runner();
  void Start();
  void Stop();

 private:
  void Work();

  const std::string name_;
  kube::WorkQueue& queue_;
  Reconciler reconcile_;
  const int workers_;
  std::function<void(const std::string&, const Status&)> on_error_;
  std::vector<std::thread> threads_;
};

bool IsTerminal(const Status& s);

}  // namespace gpupool::controllers
