#include "tests/support/fake_apiserver/kinds.h"

namespace gpupool::testing::fake {

namespace {

KindInfo Make(const char* group, const char* version, const char* plural, const char* singular,
              const char* kind) {
  KindInfo k;
  k.group = group;
  k.version = version;
  k.plural = plural;
  k.singular = singular;
  k.kind = kind;
  return k;
}

}  // namespace

const std::vector<KindInfo>& Kinds() {
  static const std::vector<KindInfo> kinds = [] {
    std::vector<KindInfo> k;
    KindInfo pods = Make("", "v1", "pods", "pod", "Pod");
    pods.status_subresource = true;
    pods.short_names = {"po"};
    pods.field_selectors = {"spec.nodeName",           "spec.restartPolicy", "spec.schedulerName",
                            "spec.serviceAccountName", "status.phase",       "status.podIP",
                            "status.nominatedNodeName"};
    k.push_back(pods);
    KindInfo events = Make("", "v1", "events", "event", "Event");
    events.short_names = {"ev"};
    events.has_generation = false;
    events.field_selectors = {"involvedObject.kind",
                              "involvedObject.name",
                              "involvedObject.namespace",
                              "involvedObject.uid",
                              "reason",
                              "type"};
    k.push_back(events);
    KindInfo leases = Make("coordination.k8s.io", "v1", "leases", "lease", "Lease");
    leases.rv_required_on_update = true;
    leases.has_generation = false;
    k.push_back(leases);
    KindInfo pools = Make("gpupool.io", "v1alpha1", "gpupools", "gpupool", "GPUPool");
    pools.namespaced = false;
    pools.status_subresource = true;
    pools.rv_required_on_update = true;
    pools.builtin = false;
    pools.short_names = {"gp"};
    k.push_back(pools);
    KindInfo reviews = Make("authentication.k8s.io", "v1", "tokenreviews", "", "TokenReview");
    reviews.namespaced = false;
    reviews.create_only = true;
    reviews.has_generation = false;
    k.push_back(reviews);
    KindInfo accounts = Make("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount");
    accounts.has_generation = false;
    accounts.token_subresource = true;
    accounts.short_names = {"sa"};
    k.push_back(accounts);
    KindInfo secrets = Make("", "v1", "secrets", "secret", "Secret");
    secrets.has_generation = false;
    secrets.field_selectors = {"type"};
    k.push_back(secrets);
    KindInfo nodes = Make("", "v1", "nodes", "node", "Node");
    nodes.namespaced = false;
    nodes.status_subresource = true;
    nodes.has_generation = false;
    nodes.short_names = {"no"};
    nodes.field_selectors = {"spec.unschedulable"};
    k.push_back(nodes);
    KindInfo hooks = Make("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                          "mutatingwebhookconfiguration", "MutatingWebhookConfiguration");
    hooks.namespaced = false;
    k.push_back(hooks);
    return k;
  }();
  return kinds;
}

const KindInfo* FindKind(std::string_view group, std::string_view version, std::string_view plural) {
  for (const auto& k : Kinds()) {
    if (k.group == group && k.version == version && k.plural == plural) return &k;
  }
  return nullptr;
}

const KindInfo* FindKindByPlural(std::string_view plural) {
  for (const auto& k : Kinds()) {
    if (k.plural == plural) return &k;
  }
  return nullptr;
}

}  // namespace gpupool::testing::fake
