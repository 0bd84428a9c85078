#include "operator/kube/retry.h"

#include <thread>

#include "common/kube/errors.h"

namespace gpupool::kube {

Status RetryOnConflict(const Backoff& backoff, const std::function<Status()>& fn) {
  int attempts = backoff.steps > 0 ? backoff.steps : 1;
  Status last;
  for (int i = 0; i < attempts; ++i) {
    if (i > 0) std::this_thread::sleep_for(backoff.Delay(i - 1));
    last = fn();
    if (!IsConflict(last)) return last;
  }
  return last;
}

}  // namespace gpupool::kube
