// Operator: wires informers (pods, GPUPools), the leader elector, and the two controllers (pool,
// binder) with their work queues (controller-runtime's Manager, STYLE §6).
//
// Every replica runs the informers (the webhook reads GPUPools from them) and serves; only the
// Lease holder runs the controllers. A term starts with a fresh ledger seeded from GPUPool status
// and rebuilt from pod annotations, then the queues fill. Losing the lease flips `leading` first,
// so every write through LeaderOnlyClient is refused at once, then stops the workers.
//
// Thread-safety: Start/Stop from the owner; the accessors from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "operator/controllers/binder.h"
#include "operator/controllers/control_client.h"
#include "operator/controllers/events.h"
#include "operator/controllers/leader_client.h"
#include "operator/controllers/pool_controller.h"
#include "operator/controllers/runner.h"
#include "operator/kube/informer.h"
#include "operator/kube/workqueue.h"
#include "operator/leader/elector.h"
#include "operator/metrics/operator_metrics.h"

namespace gpupool::controllers {

struct OperatorOptions {
  bool leader_elect = true;
  leader::ElectionConfig election;  // lease namespace/name, identity, timings
  int binder_workers = 4;
  int pool_workers = 2;
  PoolControllerOptions pool;
  BinderOptions binder;
  EventOptions events;
  kube::InformerOptions informer;  // ns, selectors and page size are set per informer
};

class Operator {
 public:
  Operator(kube::Client& client, ControlClient& control, metrics::OperatorMetrics& metrics,
           OperatorOptions options);
  ~Operator();

  // Starts the informers and (with leader election) the elector; waits up to `sync_timeout` for the
  // informers' first lists. Unavailable when they do not sync in time.
  Status Start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(60));
  void Stop();

  bool IsLeader() const { return leading_.load(); }
  // "" when ready (informers synced), else why not.
  std::string NotReady() const;
  const kube::Store& pools() const { return pool_informer_->store(); }
  const kube::Store& pods() const { return pod_informer_->store(); }
  long events_written() const { return events_.written(); }
  // Terms led so far (tests: a new leader took over).
  int terms() const { return terms_.load(); }

 private:
  void StartLeading();
  void StopLeading();
  void OnPod(const kube::Json& pod);
  void OnPoolChanged(const std::string& pool, bool freed);
  void OnCapacityChanged(const std::string& pool);

  kube::Client& raw_;
  ControlClient& control_;
  metrics::OperatorMetrics& metrics_;
  const OperatorOptions options_;
  std::atomic<bool> leading_{false};
  std::atomic<int> terms_{0};
  LeaderOnlyClient client_;
  EventRecorder events_;
  std::unique_ptr<kube::Informer> pod_informer_, pool_informer_;
  std::unique_ptr<leader::LeaderElector> elector_;

  // One leadership term; replaced as a whole.
  struct Term {
    SharedState state;
    kube::WorkQueue pool_queue, pod_queue;
    std::unique_ptr<PoolController> pools;
    std::unique_ptr<Binder> binder;
    std::unique_ptr<Runner> pool_runner, pod_runner;
  };
  std::mutex term_mu_;  // guards term_ (the pointer); the informer thread reads it to enqueue
  std::shared_ptr<Term> term_;
  // A term starts on its own thread (probing servers takes time the elector needs for renewing);
  // lead_mu_ keeps StartLeading and StopLeading from interleaving.
  std::mutex lead_mu_;
  std::mutex start_mu_;
  std::thread start_thread_;
};

}  // namespace gpupool::controllers
