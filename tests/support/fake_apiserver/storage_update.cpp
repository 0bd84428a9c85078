// Storage: PUT and PATCH, to the object or its status subresource (k8s-api-facts §4.2, §4.5, §13).
#include <algorithm>

#include "tests/support/fake_apiserver/meta.h"
#include "tests/support/fake_apiserver/storage.h"

namespace gpupool::testing::fake {
namespace {

// Everything outside metadata (and status, when it has its own endpoint): what generation tracks.
Json GenerationView(const KindInfo& k, Json obj) {
  obj.erase("metadata");
  if (k.status_subresource) obj.erase("status");
  return obj;
}

Json Finalizers(const Json& obj) {
  const Json& md = obj["metadata"];
  return md.contains("finalizers") && md["finalizers"].is_array() ? md["finalizers"] : Json::array();
}

// Pod spec rules: scheduling gates may only be removed; while the pod is gated its nodeSelector may
// gain entries (k8s-api-facts §8.1, "Mutable Pod scheduling directives"); the rest of the spec is
// immutable except for the fields Kubernetes lets an update change.
std::string PodSpecViolation(const Json& old_spec, const Json& new_spec) {
  Json old_gates = old_spec.value("schedulingGates", Json::array());
  Json new_gates = new_spec.value("schedulingGates", Json::array());
  const Json old_selector = old_spec.value("nodeSelector", Json::object());
  const Json new_selector = new_spec.value("nodeSelector", Json::object());
  bool selector_grew = old_selector != new_selector;
  for (const auto& [key, value] : old_selector.items()) {
    if (!new_selector.contains(key) || new_selector[key] != value) {
      return "spec.nodeSelector: Invalid value: " + new_selector.dump() +
             ": only additions to spec.nodeSelector are allowed (no mutations or deletions)";
    }
  }
  if (selector_grew && old_gates.empty()) {
    return "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
           "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), "
           "`spec.terminationGracePeriodSeconds`, `spec.schedulingGates` (only deletion)";
  }
  for (const auto& g : new_gates) {
    if (std::find(old_gates.begin(), old_gates.end(), g) == old_gates.end()) {
      return "spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate '" +
             g.value("name", std::string()) + "'";
    }
  }
  auto strip = [](Json s) {
    s.erase("schedulingGates");
    s.erase("nodeSelector");
    s.erase("activeDeadlineSeconds");
    s.erase("tolerations");
    s.erase("terminationGracePeriodSeconds");
    if (s.contains("containers") && s["containers"].is_array()) {
      for (auto& c : s["containers"]) c.erase("image");
    }
    return s;
  };
  if (strip(old_spec) != strip(new_spec)) {
    return "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
           "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), "
           "`spec.terminationGracePeriodSeconds`, `spec.schedulingGates` (only deletion)";
  }
  return "";
}

}  // namespace

Reply Storage::Update(const KindInfo& k, const std::string& ns, const std::string& name, Json obj,
                      bool status, bool from_patch) {
  if (!obj.is_object()) return BadRequest("the body of the request must be a JSON object");
  std::string body_name = Str(obj, "metadata", "name");
  if (!body_name.empty() && body_name != name) {
    return BadRequest("the name of the object (" + body_name + ") does not match the name on the URL (" +
                      name + ")");
  }
  std::string body_ns = Str(obj, "metadata", "namespace");
  if (k.namespaced && !body_ns.empty() && body_ns != ns) {
    return BadRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
  }
  std::lock_guard lock(mu_);
  return UpdateLocked(k, StorageKey(k, ns, name), std::move(obj), status, from_patch);
}

Reply Storage::Patch(const KindInfo& k, const std::string& ns, const std::string& name, PatchKind kind,
                     const Json& patch, bool status) {
  if (kind == PatchKind::kStrategic && !k.builtin) {
    return StatusReply(
        415, "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
  }
  if (kind == PatchKind::kApply || kind == PatchKind::kUnknown) {
    return StatusReply(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media types include: "
                       "application/json-patch+json, application/merge-patch+json" +
                           std::string(k.builtin ? ", application/strategic-merge-patch+json" : ""));
  }
  std::lock_guard lock(mu_);
  std::string key = StorageKey(k, ns, name);
  const Objects& objects = objects_[&k];
  auto it = objects.find(key);
  if (it == objects.end()) return NotFound(k, name);
  auto patched = ApplyPatch(kind, it->second, patch);
  if (!patched.ok()) return InvalidReply(k, name, "patch", patched.status().message());
  if (!patched->is_object()) return InvalidReply(k, name, "patch", "the patched object is not a JSON object");
  if (Str(*patched, "metadata", "name") != name) {
    return BadRequest("the name of the object does not match the name on the URL (" + name + ")");
  }
  return UpdateLocked(k, key, std::move(*patched), status, /*from_patch=*/true);
}

Reply Storage::UpdateLocked(const KindInfo& k, const std::string& key, Json obj, bool status,
                            bool from_patch) {
  Objects& objects = objects_[&k];
  auto it = objects.find(key);
  std::string name = key.substr(key.find('/') == std::string::npos ? 0 : key.find('/') + 1);
  if (it == objects.end()) return NotFound(k, name);
  const Json old = it->second;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  std::string want_rv = Str(obj, "metadata", "resourceVersion");
  if (!want_rv.empty() && want_rv != Str(old, "metadata", "resourceVersion")) return ConflictReply(k, name);
  if (want_rv.empty() && k.rv_required_on_update && !from_patch) {
    return InvalidReply(k, name, "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update");
  }

  Json next;
  if (status && !k.builtin) {  // CR /status: only status comes from the request
    next = old;
    if (obj.contains("status")) {
      next["status"] = obj["status"];
    } else {
      next.erase("status");
    }
  } else {
    next = std::move(obj);
    if (status) {  // pods/status: spec, deletionTimestamp and ownerReferences stay
      next["spec"] = old.value("spec", Json::object());
      if (old["metadata"].contains("ownerReferences")) {
        next["metadata"]["ownerReferences"] = old["metadata"]["ownerReferences"];
      } else {
        next["metadata"].erase("ownerReferences");
      }
    } else if (k.status_subresource) {
      if (old.contains("status")) {
        next["status"] = old["status"];
      } else {
        next.erase("status");
      }
    }
  }
  Json& md = next["metadata"];
  for (const char* f : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation"}) {
    if (old["metadata"].contains(f)) {
      md[f] = old["metadata"][f];
    } else {
      md.erase(f);
    }
  }
  md.erase("managedFields");
  md["resourceVersion"] = old["metadata"]["resourceVersion"];
  next["apiVersion"] = k.ApiVersion();
  next["kind"] = k.kind;
  if (md.contains("finalizers") && (md["finalizers"].is_null() || md["finalizers"].empty()))
    md.erase("finalizers");
  if (md.contains("labels") && md["labels"].is_null()) md.erase("labels");
  if (md.contains("annotations") && md["annotations"].is_null()) md.erase("annotations");

  if (!Str(old, "metadata", "deletionTimestamp").empty()) {
    Json added = Json::array();
    for (const auto& f : Finalizers(next)) {
      Json of = Finalizers(old);
      if (std::find(of.begin(), of.end(), f) == of.end()) added.push_back(f);
    }
    if (!added.empty()) {
      return InvalidReply(
          k, name, "metadata.finalizers",
          "Forbidden: no new finalizers can be added if the object is being deleted, found new "
          "finalizers " +
              added.dump());
    }
  }
  if (k.plural == "pods" && next["spec"].contains("schedulingGates") &&
      next["spec"]["schedulingGates"].empty()) {
    next["spec"].erase("schedulingGates");  // Go's omitempty: an empty list is not stored
  }
  if (k.plural == "pods" && !status) {
    std::string why = PodSpecViolation(old.value("spec", Json::object()), next.value("spec", Json::object()));
    if (!why.empty()) {
      size_t colon = why.find(": ");
      return InvalidReply(k, name, why.substr(0, colon), why.substr(colon + 2));
    }
  }
  if (k.has_generation && GenerationView(k, old) != GenerationView(k, next)) {
    md["generation"] = old["metadata"].value("generation", 0) + 1;
  }
  if (next == old) return Reply{200, old};  // no-op write: same resourceVersion, no event

  md["resourceVersion"] = std::to_string(++rv_);
  if (!Str(next, "metadata", "deletionTimestamp").empty() && Finalizers(next).empty()) {
    DeleteNowLocked(k, key, next);  // the last finalizer is gone: delete in this same write
    return Reply{200, next};
  }
  it->second = next;
  Emit(k, "MODIFIED", next, old);
  return Reply{200, next};
}

}  // namespace gpupool::testing::fake
