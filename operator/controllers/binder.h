// Binder: reconciles one pod ("ns/name") against the ledger (ARCHITECTURE §4.2 step 2, §4.3).
//
// - Gated pod without a binding: place by the pool's policy, claim in the ledger, write the
//   gpupool.io/binding annotation (merge patch with a resourceVersion precondition), Admit the
//   shares on each server, remove the scheduling gate (again conditional). No capacity: the pod
//   stays gated, with an Event, the pool's CapacityAvailable condition and a pending metric.
// - Pod with a binding (a restart, or a crash between annotation and gate removal): the binding is
//   claimed as it stands; Admit is idempotent, then the gate goes. A binding that is malformed,
//   overbooks or names unknown GPUs is reported (Event) and never trusted: a still-gated pod is
//   re-placed, a running one is left alone. A binding that differs from the ledger's copy (someone
//   else edited it) is reported and restored.
// - Pod finished, being deleted or gone: the share is released and the servers Revoke it (a failed
//   Revoke is retried until it succeeds).
//
// Thread-safety: Reconcile may run on several workers at once (never for the same key); placing
// and claiming are one step under a mutex.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/binding/binding.h"
#include "common/kube/client.h"
#include "operator/controllers/control_client.h"
#include "operator/controllers/events.h"
#include "operator/controllers/shared_state.h"
#include "operator/kube/store.h"
#include "operator/metrics/operator_metrics.h"

namespace gpupool::controllers {

struct BinderOptions {
  std::chrono::milliseconds pending_retry{std::chrono::seconds(30)};  // safety net besides capacity events
};

class Binder {
 public:
  // `pool_changed(pool, freed)` asks the pool controller to republish (pending pods changed) and,
  // when `freed`, the binder to look at its waiting pods again (a share was released).
  Binder(kube::Client& client, const kube::Store& pods, ControlClient& control, SharedState& state,
         EventRecorder& events, metrics::OperatorMetrics& metrics,
         std::function<void(const std::string& pool, bool freed)> pool_changed, BinderOptions options = {});

  // Claims every pod's binding not yet claimed, oldest pod first; returns how many it claimed.
  // Called when a term starts (after the pools are probed) and whenever GPUs appear.
  int Rebuild();
  Result<std::chrono::milliseconds> Reconcile(const std::string& key);
  // Revokes admissions the servers hold for pods that no longer exist (deleted while no operator
  // led, so no one revoked them); returns how many. Unreachable servers are skipped.
  int RevokeOrphans();
  // Whether a pod event concerns the binder (gated, bound by us, or held in the ledger).
  bool Interested(const kube::Json& pod) const;
  // Keys of pods worth another look when capacity changes (gated, or bindings not yet trusted).
  std::vector<std::string> Waiting() const;

 private:
  void Release(const std::string& key, const std::string& uid, const std::string& why);
  Status RevokeOwed(const std::string& key);
  Result<std::chrono::milliseconds> Bind(const kube::Json& pod);
  Result<std::chrono::milliseconds> Adopt(const kube::Json& pod, const std::string& annotation);
  Status AdmitAll(const kube::Json& pod, const Binding& binding);
  Result<kube::Json> RemoveGate(const kube::Json& pod);
  // Writes (null: clears) the binding annotation, conditional on the pod's resourceVersion; with a
  // `node`, in the same patch pins the pod there (spec.nodeSelector kubernetes.io/hostname, which a
  // gated pod may gain).
  Result<kube::Json> WriteAnnotation(const kube::Json& pod, const std::string* value,
                                     const std::string& node = "");
  void SetPending(const kube::Json& pod, const std::string& pool, const std::string& reason);
  void ClearPending(const std::string& key);

  kube::Client& client_;
  const kube::Store& pods_;
  ControlClient& control_;
  SharedState& state_;
  EventRecorder& events_;
  metrics::OperatorMetrics& metrics_;
  std::function<void(const std::string&, bool)> pool_changed_;
  const BinderOptions options_;

  std::mutex place_mu_;  // Place + Claim as one step
  std::mutex revoke_mu_;
  // UIDs whose gate this binder removed: a cached copy still showing the gate is stale, not a
  // reason to Admit and patch again (the informer's next event brings the fresh copy).
  std::set<std::string> ungated_;
  struct Owed {
    std::string key, reason;
    Binding binding;
  };
  std::map<std::string, Owed> revokes_;  // by pod UID: shares released here, not yet revoked on servers
};

// Pod helpers (pure).
bool HasGate(const kube::Json& pod);
bool IsFinished(const kube::Json& pod);                // Succeeded, Failed, or deletionTimestamp set
std::string BindingAnnotation(const kube::Json& pod);  // "" when absent
// Seconds since the pod's creationTimestamp (0 when it cannot be read).
double SecondsSinceCreation(const kube::Json& pod);

}  // namespace gpupool::controllers
