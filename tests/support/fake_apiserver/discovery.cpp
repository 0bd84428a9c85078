#include "tests/support/fake_apiserver/discovery.h"

#include <set>

#include "tests/support/fake_apiserver/kinds.h"

namespace gpupool::testing::fake {
namespace {

using nlohmann::json;

json ResourceList(const std::string& group, const std::string& version) {
  json resources = json::array();
  for (const KindInfo& k : Kinds()) {
    if (k.group != group || k.version != version) continue;
    json verbs = k.create_only ? json::array({"create"})
                               : json::array({"create", "delete", "get", "list", "patch", "update", "watch"});
    json r = {{"name", k.plural},
              {"singularName", k.singular},
              {"namespaced", k.namespaced},
              {"kind", k.kind},
              {"verbs", verbs}};
    if (!k.short_names.empty()) r["shortNames"] = k.short_names;
    resources.push_back(r);
    if (k.status_subresource) {
      resources.push_back({{"name", k.plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", k.namespaced},
                           {"kind", k.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
    if (k.token_subresource) {
      resources.push_back({{"name", k.plural + "/token"},
                           {"singularName", ""},
                           {"namespaced", k.namespaced},
                           {"group", "authentication.k8s.io"},
                           {"version", "v1"},
                           {"kind", "TokenRequest"},
                           {"verbs", {"create"}}});
    }
  }
  std::string gv = group.empty() ? version : group + "/" + version;
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", gv}, {"resources", resources}};
}

json Group(const std::string& name) {
  std::set<std::string> versions;
  for (const KindInfo& k : Kinds()) {
    if (k.group == name) versions.insert(k.version);
  }
  json vs = json::array();
  for (const auto& v : versions) vs.push_back({{"groupVersion", name + "/" + v}, {"version", v}});
  return {{"name", name}, {"versions", vs}, {"preferredVersion", vs.at(0)}};
}

}  // namespace

std::optional<json> Discovery(const std::string& path, const std::string& server_address) {
  if (path == "/version") {
    return json{{"major", "1"},          {"minor", "32"},           {"gitVersion", "v1.32.0-gpupool-fake"},
                {"gitCommit", ""},       {"gitTreeState", "clean"}, {"buildDate", "2026-01-01T00:00:00Z"},
                {"goVersion", "go1.23"}, {"compiler", "gc"},        {"platform", "linux/amd64"}};
  }
  if (path == "/api") {
    return json{
        {"kind", "APIVersions"},
        {"versions", {"v1"}},
        {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
  }
  if (path == "/api/v1") return ResourceList("", "v1");
  std::set<std::string> groups;
  for (const KindInfo& k : Kinds()) {
    if (!k.group.empty()) groups.insert(k.group);
  }
  if (path == "/apis") {
    json list = json::array();
    for (const auto& g : groups) list.push_back(Group(g));
    return json{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", list}};
  }
  for (const auto& g : groups) {
    if (path == "/apis/" + g) {
      json doc = Group(g);
      doc["kind"] = "APIGroup";
      doc["apiVersion"] = "v1";
      return doc;
    }
    for (const KindInfo& k : Kinds()) {
      if (k.group == g && path == "/apis/" + g + "/" + k.version) return ResourceList(g, k.version);
    }
  }
  return std::nullopt;
}

}  // namespace gpupool::testing::fake
