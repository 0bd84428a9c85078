#include "operator/webhook/mutate.h"

#include "common/binding/binding.h"
#include "common/kube/base64.h"
#include "operator/placement/json_at.h"
#include "operator/placement/request.h"

namespace gpupool::webhook {
namespace {

using nlohmann::json;

const json& At(const json& j, const char* key) {
  return placement::JsonAt(j, key);
}

// JSON Pointer escaping (RFC 6901) is not needed: our keys have no '/' or '~'.
void AddTo(json& patch, const json& parent, const std::string& path, const char* field, json value) {
  if (At(parent, field).is_array()) {
    patch.push_back({{"op", "add"}, {"path", path + "/" + field + "/-"}, {"value", std::move(value)}});
  } else {
    patch.push_back(
        {{"op", "add"}, {"path", path + "/" + field}, {"value", json::array({std::move(value)})}});
  }
}

bool HasNamed(const json& parent, const char* field, std::string_view name) {
  for (const json& item : At(parent, field)) {
    if (item.is_object() && placement::JsonString(item, "name") == name) return true;
  }
  return false;
}

bool HasMountAt(const json& container, std::string_view path) {
  for (const json& m : At(container, "volumeMounts")) {
    if (m.is_object() &&
        (placement::JsonString(m, "name") == kVolumeName || placement::JsonString(m, "mountPath") == path))
      return true;
  }
  return false;
}

json Volume() {
  return {
      {"name", kVolumeName},
      {"projected",
       {{"sources",
         json::array({{{"downwardAPI",
                        {{"items", json::array({{{"path", "pod/annotations"},
                                                 {"fieldRef", {{"fieldPath", "metadata.annotations"}}}}})}}}},
                      {{"serviceAccountToken",
                        {{"audience", kTokenAudience},
                         {"expirationSeconds", kTokenExpirationSeconds},
                         {"path", "token"}}}}})}}}};
}

bool Asks(const json& container) {
  return placement::RequestFromPod(json{{"spec", {{"containers", json::array({container})}}}})
      .value_or(std::nullopt)
      .has_value();
}

}  // namespace

Result<json> Mutate(const json& pod, const PoolCatalog& pools) {
  GPUPOOL_ASSIGN_OR_RETURN(std::optional<placement::Request> request, placement::RequestFromPod(pod));
  json patch = json::array();
  if (!request) return patch;
  const json& spec = At(pod, "spec");
  const json& node = At(spec, "nodeName");
  if (node.is_string() && !node.get<std::string>().empty()) {
    return Status::InvalidArgument(
        "the pod sets spec.nodeName, so it cannot wait for a gpupool binding "
        "(scheduling gates need the scheduler)");
  }
  const std::string pool = placement::PoolOfPod(pod);
  auto largest = pools.LargestGpuMemory(pool);
  if (!largest.ok()) return largest.status();
  if (request->memory_gib && largest->has_value() && (*request->memory_gib << 30) > **largest) {
    return Status::InvalidArgument("gpupool.io/gpu-memory asks " + std::to_string(*request->memory_gib) +
                                   " GiB per GPU, more than the largest GPU of pool " +
                                   (pool.empty() ? "(default)" : pool) + " has (" +
                                   std::to_string(**largest >> 30) + " GiB)");
  }

  if (!HasNamed(spec, "schedulingGates", kSchedulingGate)) {
    AddTo(patch, spec, "/spec", "schedulingGates", json{{"name", kSchedulingGate}});
  }
  if (!HasNamed(spec, "volumes", kVolumeName)) AddTo(patch, spec, "/spec", "volumes", Volume());
  for (const char* kind : {"initContainers", "containers"}) {
    const json& list = At(spec, kind);
    if (!list.is_array()) continue;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json& c = list[i];
      if (!c.is_object() || !Asks(c)) continue;
      const std::string at = std::string("/spec/") + kind + "/" + std::to_string(i);
      if (!HasMountAt(c, kMountPath)) {
        AddTo(patch, c, at, "volumeMounts",
              json{{"name", kVolumeName}, {"mountPath", kMountPath}, {"readOnly", true}});
      }
      // The variables in one patch operation when the container has no env list yet (a second
      // "add /env" would replace the first).
      json env = json::array();
      if (!HasNamed(c, "env", kPodInfoEnv))
        env.push_back({{"name", kPodInfoEnv}, {"value", kPodInfoDefaultPath}});
      if (!HasNamed(c, "env", kPodUidEnv)) {
        env.push_back({{"name", kPodUidEnv}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.uid"}}}}}});
      }
      if (!HasNamed(c, "env", kPodTokenFileEnv))
        env.push_back({{"name", kPodTokenFileEnv}, {"value", kTokenDefaultPath}});
      if (At(c, "env").is_array()) {
        for (json& e : env) AddTo(patch, c, at, "env", std::move(e));
      } else if (!env.empty()) {
        patch.push_back({{"op", "add"}, {"path", at + "/env"}, {"value", std::move(env)}});
      }
    }
  }
  return patch;
}

Result<json> Review(const json& review, const PoolCatalog& pools) {
  if (!review.is_object() || placement::JsonString(review, "kind") != "AdmissionReview" ||
      placement::JsonString(review, "apiVersion") != "admission.k8s.io/v1") {
    return Status::InvalidArgument("not an admission.k8s.io/v1 AdmissionReview");
  }
  const json& req = At(review, "request");
  if (!At(req, "uid").is_string()) return Status::InvalidArgument("AdmissionReview has no request.uid");
  json response = {{"uid", At(req, "uid")}, {"allowed", true}};
  const bool pod_create = At(req, "operation") == "CREATE" && At(At(req, "kind"), "kind") == "Pod" &&
                          At(req, "object").is_object();
  if (pod_create) {
    auto patch = Mutate(At(req, "object"), pools);
    if (!patch.ok()) {
      response["allowed"] = false;
      response["status"] = {
          {"code", 400}, {"reason", "BadRequest"}, {"message", "gpupool: " + patch.status().message()}};
    } else if (!patch->empty()) {
      response["patchType"] = "JSONPatch";
      response["patch"] = kube::Base64(patch->dump());
    }
  }
  return json{{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"response", response}};
}

}  // namespace gpupool::webhook
