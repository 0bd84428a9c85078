// PoolController: reconciles one GPUPool by name. Probes the servers' Control API (GetInventory,
// with deadlines, in parallel) at most every `probe_interval`, sets the pool's GPUs in the ledger,
// and publishes per-GPU capacity, allocation, health, conditions (Ready, Degraded naming the
// failed servers and unhealthy GPUs, CapacityAvailable) and observedGeneration in GPUPool.status.
// Writes only when the status changed. A server silent for `unhealthy_after` (ServerHealth) has
// its GPUs marked unhealthy; while one is silent but not yet failed it is probed again when its
// grace ends, so it is marked within unhealthy_after plus one probe deadline of its last answer.
// Changes of GPU health are recorded as Events on the pool and on the pods holding shares there
// (HealthNotices). Returns when to probe again.
//
// Thread-safety: Reconcile may run on several workers for different pools at once (the work queue
// never hands one key to two workers).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/kube/client.h"
#include "operator/controllers/control_client.h"
#include "operator/controllers/events.h"
#include "operator/controllers/pool_status.h"
#include "operator/controllers/server_health.h"
#include "operator/controllers/shared_state.h"
#include "operator/kube/store.h"
#include "operator/metrics/operator_metrics.h"

namespace gpupool::controllers {

struct PoolControllerOptions {
  std::chrono::milliseconds probe_interval{std::chrono::seconds(10)};
  std::chrono::milliseconds unhealthy_after{std::chrono::seconds(20)};
};

class PoolController {
 public:
  // `on_capacity_change(pool)` runs after the pool's GPUs changed (the binder retries its pods).
  PoolController(kube::Client& client, const kube::Store& pools, ControlClient& control, SharedState& state,
                 EventRecorder& events, metrics::OperatorMetrics& metrics,
                 std::function<void(const std::string& pool)> on_capacity_change,
                 PoolControllerOptions options = {});

  Result<std::chrono::milliseconds> Reconcile(const std::string& name);
  // Seeds the ledger with every pool's last published GPUs (a new term, before the binder rebuilds).
  void SeedFromStatus();

 private:
  std::vector<ServerProbe> Probe(const PoolSpec& spec);
  // Sets each probe's health verdict; returns how soon a silent server must be probed again
  // (probe_interval when none is in its grace period).
  std::chrono::milliseconds Judge(std::vector<ServerProbe>& probes, const kube::Json& old_status,
                                  std::chrono::steady_clock::time_point now);
  void RecordHealthChanges(const kube::Json& pool, const std::vector<placement::GpuUsage>& before,
                           const std::vector<placement::GpuUsage>& after,
                           const std::vector<ServerProbe>& probes);

  kube::Client& client_;
  const kube::Store& pools_;
  ControlClient& control_;
  SharedState& state_;
  EventRecorder& events_;
  metrics::OperatorMetrics& metrics_;
  std::function<void(const std::string&)> on_capacity_change_;
  const PoolControllerOptions options_;

  ServerHealth health_;
  struct Cached {
    std::vector<ServerProbe> probes;
    std::chrono::steady_clock::time_point next_probe;
    long long generation = -1;
  };
  std::mutex mu_;
  std::map<std::string, Cached> cache_;  // by pool
};

}  // namespace gpupool::controllers
