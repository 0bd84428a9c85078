// Resource: where a kind lives on the API server (group, version, plural, scope) and how its paths
// are built. The kinds the operator uses are predefined below.
//
// Thread-safety: values; the predefined instances are immutable.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace gpupool::kube {

struct Resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string plural;   // "pods"
  std::string kind;     // "Pod"
  bool namespaced = true;

  // "v1" for the core group, "<group>/<version>" otherwise.
  std::string ApiVersion() const;
  // "/api/v1/namespaces/<ns>/pods"; with an empty ns (or a cluster-scoped kind) the collection across
  // all namespaces: "/api/v1/pods", "/apis/gpupool.io/v1alpha1/gpupools".
  std::string CollectionPath(std::string_view ns) const;
  // ".../<plural>/<name>[/<subresource>]"; names are percent-encoded.
  std::string ObjectPath(std::string_view ns, std::string_view name, std::string_view subresource = "") const;
};

const Resource& Pods();          // core/v1 pods, namespaced, status subresource
const Resource& Events();        // core/v1 events, namespaced
const Resource& Leases();        // coordination.k8s.io/v1 leases, namespaced
const Resource& GPUPools();      // gpupool.io/v1alpha1 gpupools, cluster-scoped, status subresource
const Resource& TokenReviews();  // authentication.k8s.io/v1 tokenreviews, cluster-scoped, create only

// Accessors that never throw: "" when the field is absent or not a string.
std::string NameOf(const nlohmann::json& obj);
std::string NamespaceOf(const nlohmann::json& obj);
std::string ResourceVersionOf(const nlohmann::json& obj);
std::string UidOf(const nlohmann::json& obj);
// Cache key as client-go builds it: "<namespace>/<name>", or "<name>" for cluster-scoped objects.
std::string ObjectKey(const nlohmann::json& obj);
std::string ObjectKey(std::string_view ns, std::string_view name);
// Splits a key back into namespace ("" if none) and name.
std::pair<std::string, std::string> SplitKey(std::string_view key);

}  // namespace gpupool::kube
