// RetryOnConflict: re-runs a read-modify-write while the API server answers 409 Conflict.
//
// `fn` must re-read the object from the API server (not from an informer cache, which may be
// stale) before changing it. Stops at the first result that is not a Conflict, or after
// backoff.steps attempts (returning the last Conflict). Like client-go's retry.RetryOnConflict.
//
// Thread-safety: runs on the calling thread; sleeps between attempts.
#pragma once

#include <functional>

#include "common/status.h"
#include "operator/kube/backoff.h"

namespace gpupool::kube {

Status RetryOnConflict(const Backoff& backoff, const std::function<Status()>& fn);
inline Status RetryOnConflict(const std::function<Status()>& fn) {
  return RetryOnConflict(kDefaultRetry, fn);
}

}  // namespace gpupool::kube
