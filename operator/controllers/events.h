// EventRecorder: core/v1 Events on pods and pools ("why is my pod still gated?"), as kubectl
// describe shows them. Repeats of the same (object, reason, message) within `dedupe_window` are
// dropped so a pod waiting for capacity does not write an Event per retry. Recording never fails
// the caller: a failed write is logged once and forgotten.
//
// Thread-safety: Record may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "operator/kube/client.h"

namespace gpupool::controllers {

class EventRecorder {
 public:
  EventRecorder(kube::Client& client, std::string instance,
                std::chrono::seconds dedupe_window = std::chrono::seconds(300))
      : client_(client), instance_(std::move(instance)), window_(dedupe_window) {}

  // `object` is the pod or GPUPool; `type` "Normal" or "Warning". Events of cluster-scoped objects
  // go to namespace "default", as the API server's own do.
  void Record(const kube::Resource& kind, const kube::Json& object, const std::string& type,
              const std::string& reason, const std::string& message);
  long written() const;

 private:
  kube::Client& client_;
  const std::string instance_;
  const std::chrono::seconds window_;
  mutable std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> recent_;
  long written_ = 0;
};

// RFC 3339 UTC with seconds, as metav1.Time serialises.
std::string NowRfc3339();

}  // namespace gpupool::controllers
