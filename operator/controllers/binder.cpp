#include "operator/controllers/binder.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "common/kube/errors.h"
#include "common/log.h"
#include "common/units.h"
#include "operator/placement/json_at.h"
#include "operator/placement/request.h"

namespace gpupool::controllers {

using placement::JsonAt;
using placement::JsonString;
using Millis = std::chrono::milliseconds;

bool HasGate(const kube::Json& pod) {
  for (const kube::Json& g : JsonAt(JsonAt(pod, "spec"), "schedulingGates")) {
    if (JsonString(g, "name") == kSchedulingGate) return true;
  }
  return false;
}

bool IsFinished(const kube::Json& pod) {
  const std::string phase = JsonString(JsonAt(pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed" ||
         !JsonAt(JsonAt(pod, "metadata"), "deletionTimestamp").is_null();
}

std::string BindingAnnotation(const kube::Json& pod) {
  return JsonString(JsonAt(JsonAt(pod, "metadata"), "annotations"), kBindingAnnotation.data());
}

double SecondsSinceCreation(const kube::Json& pod) {
  auto created = ParseRfc3339(JsonString(JsonAt(pod, "metadata"), "creationTimestamp"));
  if (!created.ok()) return 0;
  const double d = std::chrono::duration<double>(std::chrono::system_clock::now() - *created).count();
  return d < 0 ? 0 : d;
}

namespace {

placement::PodRef RefOf(const kube::Json& pod) {
  return {kube::NamespaceOf(pod), kube::NameOf(pod), kube::UidOf(pod)};
}

std::string Describe(const Binding& b) {
  std::string out;
  for (const GpuBinding& g : b.gpus) {
    out += (out.empty() ? "" : ", ") + g.uuid + " on " + g.server + " (" + std::to_string(g.percent) + "%, " +
           std::to_string(g.memory_bytes >> 20) + " MiB)";
  }
  return out;
}

}  // namespace

Binder::Binder(kube::Client& client, const kube::Store& pods, ControlClient& control, SharedState& state,
               EventRecorder& events, metrics::OperatorMetrics& metrics,
               std::function<void(const std::string&, bool)> pool_changed, BinderOptions options)
    : client_(client),
      pods_(pods),
      control_(control),
      state_(state),
      events_(events),
      metrics_(metrics),
      pool_changed_(std::move(pool_changed)),
      options_(options) {}

bool Binder::Interested(const kube::Json& pod) const {
  return HasGate(pod) || !BindingAnnotation(pod).empty() ||
         state_.ledger.UidOfPod(kube::ObjectKey(pod)).has_value();
}

std::vector<std::string> Binder::Waiting() const {
  std::vector<std::string> out;
  for (const kube::Json& pod : pods_.List()) {
    if (IsFinished(pod)) continue;
    if (HasGate(pod) || (!BindingAnnotation(pod).empty() && !state_.ledger.Find(kube::UidOf(pod)))) {
      out.push_back(kube::ObjectKey(pod));
    }
  }
  return out;
}

int Binder::Rebuild() {
  std::vector<kube::Json> bound;
  for (const kube::Json& pod : pods_.List()) {
    if (!IsFinished(pod) && !BindingAnnotation(pod).empty() && !state_.ledger.Find(kube::UidOf(pod))) {
      bound.push_back(pod);
    }
  }
  // The oldest pod's claim wins: a later, overlapping binding is the one not trusted.
  std::sort(bound.begin(), bound.end(), [](const kube::Json& a, const kube::Json& b) {
    const std::string ta = JsonString(JsonAt(a, "metadata"), "creationTimestamp");
    const std::string tb = JsonString(JsonAt(b, "metadata"), "creationTimestamp");
    return ta != tb ? ta < tb : kube::ObjectKey(a) < kube::ObjectKey(b);
  });
  int claimed = 0;
  for (const kube::Json& pod : bound) {
    auto binding = BindingFromJson(BindingAnnotation(pod));
    if (binding.ok() && state_.ledger.Claim(RefOf(pod), *binding).ok()) ++claimed;
  }
  return claimed;
}

int Binder::RevokeOrphans() {
  std::set<std::string> alive;
  for (const kube::Json& pod : pods_.List()) {
    if (!IsFinished(pod)) alive.insert(kube::UidOf(pod));
  }
  int revoked = 0;
  for (const std::string& control : state_.servers.AllControl()) {
    auto admissions = control_.ListAdmissions(control);
    if (!admissions.ok()) continue;  // unreachable: its admissions wait for the next term
    for (const control::v1::Admission& a : *admissions) {
      if (alive.count(a.pod_uid()) > 0 || state_.ledger.Find(a.pod_uid())) continue;
      if (control_.Revoke(control, a.pod_uid(), "pod no longer exists").ok()) {
        ++revoked;
        GPUPOOL_LOG(kInfo) << "revoked orphaned admission of " << a.pod_namespace() << "/" << a.pod_name()
                           << " on " << control;
      }
    }
  }
  return revoked;
}

Status Binder::RevokeOwed(const std::string& key) {
  std::vector<std::pair<std::string, Owed>> owed;
  {
    std::lock_guard lock(revoke_mu_);
    for (const auto& [uid, o] : revokes_) {
      if (o.key == key) owed.emplace_back(uid, o);
    }
  }
  for (const auto& [uid, o] : owed) {
    std::set<std::string> servers;
    for (const GpuBinding& g : o.binding.gpus) servers.insert(g.server);
    for (const std::string& server : servers) {
      GPUPOOL_RETURN_IF_ERROR(control_.Revoke(state_.servers.ControlOf(server), uid, o.reason));
    }
    std::lock_guard lock(revoke_mu_);
    revokes_.erase(uid);
  }
  return Status::Ok();
}

void Binder::Release(const std::string& key, const std::string& uid, const std::string& why) {
  {
    std::lock_guard lock(revoke_mu_);
    ungated_.erase(uid);
  }
  auto binding = state_.ledger.Release(uid);
  if (!binding) return;
  {
    std::lock_guard lock(revoke_mu_);
    revokes_[uid] = Owed{key, why, *binding};
  }
  pool_changed_(binding->pool, /*freed=*/true);
}

void Binder::SetPending(const kube::Json& pod, const std::string& pool, const std::string& reason) {
  const bool added = state_.pending.Set(pool, kube::ObjectKey(pod), reason);
  events_.Record(kube::Pods(), pod, "Warning", "NoCapacity", reason);
  if (added) {
    metrics_.BindFailed(pool, "no_capacity");
    metrics_.SetPending(pool, "no_capacity", state_.pending.Snapshot(pool).pods);
    pool_changed_(pool, false);
  }
}

void Binder::ClearPending(const std::string& key) {
  const std::string pool = state_.pending.Clear(key);
  if (pool.empty()) return;
  metrics_.SetPending(pool, "no_capacity", state_.pending.Snapshot(pool).pods);
  pool_changed_(pool, false);
}

Result<kube::Json> Binder::WriteAnnotation(const kube::Json& pod, const std::string* value,
                                           const std::string& node) {
  kube::Json patch = {
      {"metadata",
       {{"resourceVersion", kube::ResourceVersionOf(pod)},
        {"annotations", {{kBindingAnnotation, value ? kube::Json(*value) : kube::Json(nullptr)}}}}}};
  if (!node.empty()) patch["spec"] = {{"nodeSelector", {{kHostnameLabel, node}}}};
  return client_.Patch(kube::Pods(), kube::NamespaceOf(pod), kube::NameOf(pod), kube::PatchType::kMerge,
                       patch);
}

Result<kube::Json> Binder::RemoveGate(const kube::Json& pod) {
  kube::Json rest = kube::Json::array();
  for (const kube::Json& g : JsonAt(JsonAt(pod, "spec"), "schedulingGates")) {
    if (JsonString(g, "name") != kSchedulingGate) rest.push_back(g);
  }
  kube::Json patch = {{"metadata", {{"resourceVersion", kube::ResourceVersionOf(pod)}}},
                      {"spec", {{"schedulingGates", rest.empty() ? kube::Json(nullptr) : rest}}}};
  return client_.Patch(kube::Pods(), kube::NamespaceOf(pod), kube::NameOf(pod), kube::PatchType::kMerge,
                       patch);
}

Status Binder::AdmitAll(const kube::Json& pod, const Binding& binding) {
  std::map<std::string, control::v1::AdmitRequest> by_server;
  for (const GpuBinding& g : binding.gpus) {
    control::v1::AdmitRequest& req = by_server[g.server];
    req.set_pod_uid(kube::UidOf(pod));
    req.set_pod_namespace(kube::NamespaceOf(pod));
    req.set_pod_name(kube::NameOf(pod));
    control::v1::Share* share = req.add_shares();
    share->set_gpu_uuid(g.uuid);
    share->set_percent(static_cast<std::uint32_t>(g.percent));
    share->set_memory_bytes(g.memory_bytes);
  }
  for (const auto& [server, req] : by_server) {
    Status s = control_.Admit(state_.servers.ControlOf(server), req);
    if (!s.ok()) {
      metrics_.BindFailed(binding.pool, "server_refused");
      events_.Record(kube::Pods(), pod, "Warning", "AdmitFailed", s.message());
      return s;
    }
  }
  return Status::Ok();
}

Result<Millis> Binder::Reconcile(const std::string& key) {
  auto pod = pods_.Get(key);
  if (auto held = state_.ledger.UidOfPod(key);
      held && (!pod || kube::UidOf(*pod) != *held || IsFinished(*pod))) {
    Release(key, *held, !pod || kube::UidOf(*pod) != *held ? "pod deleted" : "pod finished");
  }
  GPUPOOL_RETURN_IF_ERROR(RevokeOwed(key));
  if (!pod || IsFinished(*pod)) {
    ClearPending(key);
    return Millis(0);
  }
  const std::string annotation = BindingAnnotation(*pod);
  if (!annotation.empty()) return Adopt(*pod, annotation);
  if (!HasGate(*pod)) return Millis(0);
  return Bind(*pod);
}

Result<Millis> Binder::Bind(const kube::Json& pod) {
  auto request = placement::RequestFromPod(pod);
  if (!request.ok()) {
    events_.Record(kube::Pods(), pod, "Warning", "InvalidRequest", request.status().message());
    return request.status();
  }
  if (!request->has_value()) {  // our gate on a pod that asks for nothing: let it go
    auto freed = RemoveGate(pod);
    return freed.ok() ? Result<Millis>(Millis(0)) : Result<Millis>(freed.status());
  }
  std::string pool = placement::PoolOfPod(pod);
  if (pool.empty()) {
    auto def = state_.ledger.DefaultPool();
    if (!def.ok()) {
      SetPending(pod, "", def.status().message());
      return options_.pending_retry;
    }
    pool = *def;
  }
  Result<Binding> placed = Status::Internal("not placed");
  {
    std::lock_guard lock(place_mu_);
    placed = state_.ledger.Place(pool, **request);
    if (placed.ok()) {
      Status claimed = state_.ledger.Claim(RefOf(pod), *placed);
      if (!claimed.ok()) return claimed;
    }
  }
  if (!placed.ok()) {
    if (placed.status().code() == Code::kInvalidArgument) {
      events_.Record(kube::Pods(), pod, "Warning", "Unschedulable", placed.status().message());
      return placed.status();
    }
    SetPending(pod, pool, placed.status().message());
    return options_.pending_retry;
  }
  ClearPending(kube::ObjectKey(pod));
  const std::string json = BindingToJson(*placed);
  // gpupool.io/locality: node: the pod runs where its server is (Place took only servers on known nodes).
  const std::string node =
      (*request)->node_local ? state_.ledger.NodeOf(pool, placed->gpus.front().server) : "";
  auto annotated = WriteAnnotation(pod, &json, node);
  if (!annotated.ok()) {
    state_.ledger.Release(kube::UidOf(pod));  // nothing was written: the share is free again
    if (kube::IsConflict(annotated.status())) metrics_.BindFailed(pool, "conflict");
    return annotated.status();
  }
  GPUPOOL_RETURN_IF_ERROR(AdmitAll(*annotated, *placed));
  auto ungated = RemoveGate(*annotated);
  if (!ungated.ok()) return ungated.status();
  {
    std::lock_guard lock(revoke_mu_);
    ungated_.insert(kube::UidOf(pod));
  }
  metrics_.PodBound(pool, std::chrono::duration<double>(SecondsSinceCreation(pod)));
  events_.Record(kube::Pods(), pod, "Normal", "Bound",
                 "bound to " + Describe(*placed) + (node.empty() ? "" : ", on node " + node));
  return Millis(0);
}

Result<Millis> Binder::Adopt(const kube::Json& pod, const std::string& annotation) {
  const std::string key = kube::ObjectKey(pod);
  auto binding = BindingFromJson(annotation);
  if (!binding.ok()) {
    events_.Record(kube::Pods(), pod, "Warning", "BindingInvalid",
                   binding.status().message() + (HasGate(pod) ? "; the pod is bound again" : "; ignored"));
    if (!HasGate(pod)) return Millis(0);
    auto cleared = WriteAnnotation(pod, nullptr);
    return cleared.ok() ? Result<Millis>(Millis(0)) : Result<Millis>(cleared.status());
  }
  Status claimed = state_.ledger.Claim(RefOf(pod), *binding);
  if (claimed.code() == Code::kConflict) {
    // Someone else edited the annotation; the ledger's copy is what the servers admitted.
    events_.Record(kube::Pods(), pod, "Warning", "BindingEdited", claimed.message() + "; restored");
    auto held = state_.ledger.Find(kube::UidOf(pod));
    if (!held) return Status::Internal("ledger lost the claim it reported");
    const std::string json = BindingToJson(*held);
    auto restored = WriteAnnotation(pod, &json);
    return restored.ok() ? Result<Millis>(Millis(0)) : Result<Millis>(restored.status());
  }
  if (!claimed.ok()) {
    events_.Record(kube::Pods(), pod, "Warning", "BindingRejected",
                   claimed.message() + (HasGate(pod) ? "; the pod is bound again" : "; not counted"));
    if (!HasGate(pod)) return options_.pending_retry;  // unknown GPUs may yet appear in the pool
    auto cleared = WriteAnnotation(pod, nullptr);
    return cleared.ok() ? Result<Millis>(Millis(0)) : Result<Millis>(cleared.status());
  }
  ClearPending(key);
  {
    std::lock_guard lock(revoke_mu_);
    if (!HasGate(pod)) {
      ungated_.erase(kube::UidOf(pod));  // the cache caught up
      return Millis(0);
    }
    if (ungated_.count(kube::UidOf(pod)) > 0) return Millis(0);  // stale copy of a pod we ungated
  }
  // Bound but still gated: a crash (or a failed Admit) between annotation and gate removal.
  GPUPOOL_RETURN_IF_ERROR(AdmitAll(pod, *binding));
  auto ungated = RemoveGate(pod);
  if (!ungated.ok()) return ungated.status();
  {
    std::lock_guard lock(revoke_mu_);
    ungated_.insert(kube::UidOf(pod));
  }
  metrics_.PodBound(binding->pool, std::chrono::duration<double>(SecondsSinceCreation(pod)));
  events_.Record(kube::Pods(), pod, "Normal", "Bound", "bound to " + Describe(*binding));
  return Millis(0);
}

}  // namespace gpupool::controllers
