#include "tests/support/fake_apiserver/patch.h"

#include <map>
#include <string>

namespace gpupool::testing::fake {
namespace {

using nlohmann::json;

// Merge keys of the lists the operator and its tests patch (Kubernetes' patchMergeKey tags).
const std::map<std::string, std::string>& MergeKeys() {
  static const std::map<std::string, std::string> keys = {
      {"spec.schedulingGates", "name"},
      {"spec.containers", "name"},
      {"spec.initContainers", "name"},
      {"spec.volumes", "name"},
      {"spec.containers.env", "name"},
      {"spec.containers.volumeMounts", "mountPath"},
      {"spec.containers.ports", "containerPort"},
      {"metadata.ownerReferences", "uid"},
      {"status.conditions", "type"},
      {"spec.readinessGates", "conditionType"},
  };
  return keys;
}

// The $patch directive of a patch element ("" when none); avoids json::value, whose inlined
// conversion trips GCC's -Wnull-dereference.
std::string Directive(const json& elem) {
  if (!elem.is_object() || !elem.contains("$patch")) return "";
  const auto* s = elem["$patch"].get_ptr<const std::string*>();
  return s != nullptr ? *s : "";
}

bool IsPrimitiveSet(const std::string& path) {
  return path == "metadata.finalizers";
}

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

Result<json> Strategic(const json& original, const json& patch, const std::string& path);

Result<json> MergeList(const json& original, const json& patch, const std::string& path) {
  auto mk = MergeKeys().find(path);
  if (IsPrimitiveSet(path)) {
    json out = original.is_array() ? original : json::array();
    for (const auto& v : patch) {
      bool present = false;
      for (const auto& o : out) present = present || o == v;
      if (!present) out.push_back(v);
    }
    return out;
  }
  if (mk == MergeKeys().end()) return patch;  // atomic list: replaced
  const std::string& key = mk->second;
  json out = original.is_array() ? original : json::array();
  for (const auto& elem : patch) {
    if (!elem.is_object() || !elem.contains(key)) {
      if (Directive(elem) == "replace") continue;
      return Status::InvalidArgument("element of " + path + " lacks its merge key \"" + key + "\"");
    }
    std::string directive = Directive(elem);
    auto it = out.begin();
    while (it != out.end() && !(it->is_object() && it->contains(key) && (*it)[key] == elem[key])) ++it;
    if (directive == "delete") {
      if (it != out.end()) out.erase(it);
    } else if (it != out.end()) {
      GPUPOOL_ASSIGN_OR_RETURN(*it, Strategic(*it, elem, path));
    } else {
      json fresh = elem;
      fresh.erase("$patch");
      out.push_back(fresh);
    }
  }
  for (const auto& elem : patch) {
    if (Directive(elem) == "replace") {
      json replaced = json::array();
      for (const auto& e : patch) {
        if (!(Directive(e) == "replace")) replaced.push_back(e);
      }
      return replaced;
    }
  }
  return out;
}

Result<json> Strategic(const json& original, const json& patch, const std::string& path) {
  if (!patch.is_object()) return patch;
  std::string directive = Directive(patch);
  if (directive == "delete") return json(nullptr);
  json out = original.is_object() && directive != "replace" ? original : json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    if (k == "$patch" || k == "$retainKeys" || k.rfind("$setElementOrder/", 0) == 0) continue;
    if (k.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string list = k.substr(std::string("$deleteFromPrimitiveList/").size());
      if (out.contains(list) && out[list].is_array()) {
        json kept = json::array();
        for (const auto& v : out[list]) {
          bool drop = false;
          for (const auto& d : it.value()) drop = drop || d == v;
          if (!drop) kept.push_back(v);
        }
        out[list] = kept;
      }
      continue;
    }
    const json& v = it.value();
    std::string sub = Join(path, k);
    if (v.is_null()) {
      out.erase(k);
    } else if (v.is_object()) {
      GPUPOOL_ASSIGN_OR_RETURN(json merged, Strategic(out.contains(k) ? out[k] : json(), v, sub));
      if (merged.is_null()) {
        out.erase(k);
      } else {
        out[k] = std::move(merged);
      }
    } else if (v.is_array()) {
      GPUPOOL_ASSIGN_OR_RETURN(out[k], MergeList(out.contains(k) ? out[k] : json(), v, sub));
    } else {
      out[k] = v;
    }
  }
  return out;
}

}  // namespace

PatchKind PatchKindFromContentType(std::string_view ct) {
  std::string_view base = ct.substr(0, ct.find(';'));
  if (base == "application/merge-patch+json") return PatchKind::kMerge;
  if (base == "application/json-patch+json") return PatchKind::kJson;
  if (base == "application/strategic-merge-patch+json") return PatchKind::kStrategic;
  if (base == "application/apply-patch+yaml") return PatchKind::kApply;
  return PatchKind::kUnknown;
}

Result<json> ApplyPatch(PatchKind kind, const json& original, const json& patch) {
  try {
    switch (kind) {
      case PatchKind::kMerge: {
        if (!patch.is_object()) return Status::InvalidArgument("a merge patch must be a JSON object");
        json out = original;
        out.merge_patch(patch);
        return out;
      }
      case PatchKind::kJson:
        if (!patch.is_array()) return Status::InvalidArgument("a JSON patch must be an array of operations");
        return original.patch(patch);
      case PatchKind::kStrategic:
        if (!patch.is_object())
          return Status::InvalidArgument("a strategic merge patch must be a JSON object");
        return Strategic(original, patch, "");
      case PatchKind::kApply:
      case PatchKind::kUnknown: break;
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(e.what());
  }
  return Status::Unimplemented("unsupported patch type");
}

}  // namespace gpupool::testing::fake
