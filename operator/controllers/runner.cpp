#include "operator/controllers/runner.h"

#include "common/log.h"

namespace gpupool::controllers {

bool IsTerminal(const Status& s) {
  return s.code() == Code::kInvalidArgument || s.code() == Code::kPermissionDenied ||
         s.code() == Code::kCancelled;
}

Runner::Runner(std::string name, kube::WorkQueue& queue, Reconciler reconcile, int workers,
               std::function<void(const std::string&, const Status&)> on_error)
    : name_(std::move(name)),
      queue_(queue),
      reconcile_(std::move(reconcile)),
      workers_(workers),
      on_error_(std::move(on_error)) {}

Runner::~Runner() {
  Stop();
}

void Runner::Start() {
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Work(); });
}

void Runner::Stop() {
  queue_.ShutDown();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Runner::Work() {
  while (auto key = queue_.Get()) {
    Result<std::chrono::milliseconds> r = reconcile_(*key);
    if (!r.ok()) {
      if (on_error_) on_error_(name_, r.status());
      if (IsTerminal(r.status())) {
        GPUPOOL_LOG(kWarn) << name_ << " " << *key << ": " << r.status().ToString() << " (not retried)";
        queue_.Forget(*key);
      } else {
        GPUPOOL_LOG(kDebug) << name_ << " " << *key << ": " << r.status().ToString() << " (retried)";
        queue_.AddRateLimited(*key);
      }
    } else {
      queue_.Forget(*key);
      if (r->count() > 0) queue_.AddAfter(*key, *r);
    }
    queue_.Done(*key);
  }
}

}  // namespace gpupool::controllers
