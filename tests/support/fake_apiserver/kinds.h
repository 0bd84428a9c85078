// The kinds the fake API server stores, and the rules that differ between them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gpupool::testing::fake {

struct KindInfo {
  std::string group;  // "" = core
  std::string version;
  std::string plural;
  std::string singular;
  std::string kind;
  bool namespaced = true;
  bool status_subresource = false;
  bool rv_required_on_update = false;  // CRs and Leases: PUT without resourceVersion -> 422
  bool create_only = false;            // tokenreviews: POST answers, nothing is stored
  bool token_subresource = false;      // serviceaccounts: POST NAME/token is a TokenRequest
  bool builtin = true;                 // strategic merge patch allowed; list items lose apiVersion/kind
  bool has_generation = true;
  std::vector<std::string> short_names;
  std::vector<std::string> field_selectors;  // beyond metadata.name / metadata.namespace

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "pods" or "gpupools.gpupool.io": how error messages name the resource.
  std::string QualifiedResource() const { return group.empty() ? plural : plural + "." + group; }
};

const std::vector<KindInfo>& Kinds();
const KindInfo* FindKind(std::string_view group, std::string_view version, std::string_view plural);
const KindInfo* FindKindByPlural(std::string_view plural);

}  // namespace gpupool::testing::fake
