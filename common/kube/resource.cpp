#include "common/kube/resource.h"

#include <cpprest/uri.h>

namespace gpupool::kube {
namespace {

Resource Make(const char* group, const char* version, const char* plural, const char* kind, bool namespaced) {
  Resource r;
  r.group = group;
  r.version = version;
  r.plural = plural;
  r.kind = kind;
  r.namespaced = namespaced;
  return r;
}

std::string Enc(std::string_view s) {
  return web::uri::encode_data_string(std::string(s));
}

std::string Member(const nlohmann::json& obj, const char* field) {
  if (!obj.is_object() || !obj.contains("metadata")) return "";
  const nlohmann::json& md = obj["metadata"];
  if (!md.is_object() || !md.contains(field)) return "";
  const auto* s = md[field].get_ptr<const std::string*>();
  return s != nullptr ? *s : "";
}

}  // namespace

std::string Resource::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string Resource::CollectionPath(std::string_view ns) const {
  std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) path += "/namespaces/" + Enc(ns);
  return path + "/" + plural;
}

std::string Resource::ObjectPath(std::string_view ns, std::string_view name,
                                 std::string_view subresource) const {
  std::string path = CollectionPath(ns) + "/" + Enc(name);
  if (!subresource.empty()) path += "/" + std::string(subresource);
  return path;
}

const Resource& Pods() {
  static const Resource r = Make("", "v1", "pods", "Pod", true);
  return r;
}
const Resource& Events() {
  static const Resource r = Make("", "v1", "events", "Event", true);
  return r;
}
const Resource& Leases() {
  static const Resource r = Make("coordination.k8s.io", "v1", "leases", "Lease", true);
  return r;
}
const Resource& GPUPools() {
  static const Resource r = Make("gpupool.io", "v1alpha1", "gpupools", "GPUPool", false);
  return r;
}
const Resource& TokenReviews() {
  static const Resource r = Make("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", false);
  return r;
}

std::string NameOf(const nlohmann::json& obj) {
  return Member(obj, "name");
}
std::string NamespaceOf(const nlohmann::json& obj) {
  return Member(obj, "namespace");
}
std::string ResourceVersionOf(const nlohmann::json& obj) {
  return Member(obj, "resourceVersion");
}
std::string UidOf(const nlohmann::json& obj) {
  return Member(obj, "uid");
}

std::string ObjectKey(const nlohmann::json& obj) {
  return ObjectKey(NamespaceOf(obj), NameOf(obj));
}
std::string ObjectKey(std::string_view ns, std::string_view name) {
  return ns.empty() ? std::string(name) : std::string(ns) + "/" + std::string(name);
}

std::pair<std::string, std::string> SplitKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

}  // namespace gpupool::kube
