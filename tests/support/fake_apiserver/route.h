// Route: what an API path names (k8s-api-facts §2.1): a kind, a namespace, an object and a
// subresource, or nothing the fake serves.
#pragma once

#include <string>

#include "tests/support/fake_apiserver/kinds.h"

namespace gpupool::testing::fake {

struct Route {
  const KindInfo* kind = nullptr;  // null: not a resource path
  std::string ns;                  // "" for cluster-scoped kinds and all-namespace collections
  std::string name;                // "" for collections
  std::string subresource;         // "" or "status"
  std::string error;               // why the path is invalid although it names a kind
};

// `path` is the decoded URL path ("/api/v1/namespaces/ns/pods/p/status").
Route ParseRoute(const std::string& path);

}  // namespace gpupool::testing::fake
