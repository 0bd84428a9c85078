// LeaderElector: leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection
// does it, so that only one operator replica writes.
//
// - Acquire: every retry_period (with jitter) GET the Lease (create it when absent); take it when it
//   is free or its holder has not renewed for lease_duration, measured on the LOCAL clock from when
//   this elector last saw the record change (never by comparing renewTime with local time).
// - Renew: while leader, PUT renewTime every retry_period (with the cached resourceVersion); if no
//   renewal succeeds within renew_deadline, leadership is lost.
// - Losing the lease (renew deadline passed, or someone else holds it) calls on_stopped_leading AT
//   ONCE on the elector thread so that all writing stops; IsLeader() is false before it is called.
// - Stop(): if leader and release_on_cancel, PUT holderIdentity "" with leaseDurationSeconds 1 so a
//   successor takes over fast, then on_stopped_leading.
// Requirements (checked by Create): lease_duration > renew_deadline > 1.2 * retry_period.
//
// Thread-safety: Start/Stop from the owner; IsLeader/Leader from any thread. Callbacks run on the
// elector's thread and must not call Stop().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/kube/client.h"
#include "common/status.h"

namespace gpupool::leader {

struct ElectionConfig {
  std::string lease_namespace;
  std::string lease_name = "gpupool-operator";
  std::string identity;  // unique per replica: hostname + "_" + random
  std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
  std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
  std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
  bool release_on_cancel = true;
};

struct ElectionCallbacks {
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;  // observed holder changed
};

class LeaderElector {
 public:
  static Result<std::unique_ptr<LeaderElector>> Create(kube::Client& client, ElectionConfig config,
                                                       ElectionCallbacks callbacks);
  ~LeaderElector();  // Stop()

  void Start();
  void Stop();
  bool IsLeader() const { return leading_.load(); }
  // Last observed holder ("" when none).
  std::string Leader() const;

  // "<hostname>_<random hex>" for ElectionConfig::identity.
  static std::string DefaultIdentity();

 private:
  LeaderElector(kube::Client& client, ElectionConfig config, ElectionCallbacks callbacks);
  void Run();
  bool TryAcquireOrRenew();
  void Release();
  void SetLeader(bool leading);
  bool SleepFor(std::chrono::milliseconds d);  // false when stopping

  kube::Client& client_;
  const ElectionConfig config_;
  const ElectionCallbacks callbacks_;
  std::atomic<bool> leading_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  kube::Json observed_;  // last Lease seen
  std::chrono::steady_clock::time_point observed_at_{};
  std::string observed_holder_;
  std::thread thread_;
};

}  // namespace gpupool::leader
