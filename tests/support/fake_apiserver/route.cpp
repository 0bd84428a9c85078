#include "tests/support/fake_apiserver/route.h"

#include <vector>

namespace gpupool::testing::fake {
namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

}  // namespace

Route ParseRoute(const std::string& path) {
  Route r;
  std::vector<std::string> p = Split(path);
  std::string group, version;
  size_t i = 0;
  if (p.size() >= 2 && p[0] == "api") {
    version = p[1];
    i = 2;
  } else if (p.size() >= 3 && p[0] == "apis") {
    group = p[1];
    version = p[2];
    i = 3;
  } else {
    return r;
  }
  std::vector<std::string> rest(p.begin() + static_cast<long>(i), p.end());
  bool in_ns = rest.size() >= 3 && rest[0] == "namespaces";
  if (in_ns) {
    r.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return r;
  const KindInfo* k = FindKind(group, version, rest[0]);
  if (k == nullptr) return r;
  r.kind = k;
  if (rest.size() >= 2) r.name = rest[1];
  if (rest.size() == 3) r.subresource = rest[2];
  if (!k->namespaced && in_ns) r.error = k->plural + " is cluster-scoped";
  if (k->namespaced && !in_ns && !r.name.empty()) r.error = k->plural + " is namespaced";
  const bool known = (r.subresource == "status" && k->status_subresource) ||
                     (r.subresource == "token" && k->token_subresource);
  if (!r.subresource.empty() && !known) {
    r.error = "no subresource \"" + r.subresource + "\" on " + k->plural;
  }
  return r;
}

}  // namespace gpupool::testing::fake
