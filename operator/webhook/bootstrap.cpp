#include "operator/webhook/bootstrap.h"

#include "common/kube/base64.h"
#include "common/kube/errors.h"
#include "common/log.h"
#include "operator/placement/json_at.h"
#include "operator/webhook/mutate.h"

namespace gpupool::webhook {

using placement::JsonAt;
using placement::JsonString;

const kube::Resource& Secrets() {
  static const kube::Resource r{"", "v1", "secrets", "Secret", true};
  return r;
}

const kube::Resource& MutatingWebhookConfigurations() {
  static const kube::Resource r{"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                                "MutatingWebhookConfiguration", false};
  return r;
}

namespace {

// The material stored in the Secret, when complete and consistent.
Result<TlsMaterial> FromSecret(const kube::Json& secret) {
  const kube::Json& data = JsonAt(secret, "data");
  TlsMaterial m;
  GPUPOOL_ASSIGN_OR_RETURN(m.cert_pem, kube::Base64Decode(JsonString(data, "tls.crt")));
  GPUPOOL_ASSIGN_OR_RETURN(m.key_pem, kube::Base64Decode(JsonString(data, "tls.key")));
  GPUPOOL_ASSIGN_OR_RETURN(m.ca_pem, kube::Base64Decode(JsonString(data, "ca.crt")));
  if (m.cert_pem.empty() || m.key_pem.empty() || m.ca_pem.empty()) {
    return Status::NotFound("the Secret holds no certificate yet");
  }
  GPUPOOL_RETURN_IF_ERROR(CheckKeyMatches(m.cert_pem, m.key_pem));
  return m;
}

}  // namespace

Status PatchCaBundle(kube::Client& client, const std::string& configuration, const std::string& ca_pem) {
  GPUPOOL_ASSIGN_OR_RETURN(kube::Json config, client.Get(MutatingWebhookConfigurations(), "", configuration));
  const std::string bundle = kube::Base64(ca_pem);
  kube::Json patch = kube::Json::array();
  const kube::Json& hooks = JsonAt(config, "webhooks");
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    if (JsonString(JsonAt(hooks[i], "clientConfig"), "caBundle") == bundle) continue;
    patch.push_back({{"op", "add"},
                     {"path", "/webhooks/" + std::to_string(i) + "/clientConfig/caBundle"},
                     {"value", bundle}});
  }
  if (patch.empty()) return Status::Ok();
  // Conditional on what we read, so a concurrent edit of the list is not overwritten by index.
  kube::Json test = {
      {"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", kube::ResourceVersionOf(config)}};
  patch.insert(patch.begin(), std::move(test));
  auto patched =
      client.Patch(MutatingWebhookConfigurations(), "", configuration, kube::PatchType::kJson, patch);
  return patched.ok() ? Status::Ok() : patched.status();
}

Result<TlsMaterial> EnsureTlsSecret(kube::Client& client, const std::string& ns, const std::string& name,
                                    const std::vector<std::string>& dns_names) {
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto secret = client.Get(Secrets(), ns, name);
    if (!secret.ok() && !kube::IsNotFound(secret.status()))
      return secret.status().Annotate("TLS Secret " + name);
    if (secret.ok()) {
      auto stored = FromSecret(*secret);
      if (stored.ok()) return stored;
    }
    GPUPOOL_ASSIGN_OR_RETURN(TlsMaterial fresh, GenerateTls(dns_names));
    kube::Json data = {{"tls.crt", kube::Base64(fresh.cert_pem)},
                       {"tls.key", kube::Base64(fresh.key_pem)},
                       {"ca.crt", kube::Base64(fresh.ca_pem)}};
    Result<kube::Json> written = Status::Internal("unwritten");
    if (secret.ok()) {
      kube::Json updated = *secret;
      updated["data"] = data;  // keeps metadata.resourceVersion: a racing replica gets 409
      written = client.Update(Secrets(), updated);
    } else {
      written = client.Create(Secrets(), ns,
                              {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", name}, {"namespace", ns}}},
                               {"type", "Opaque"},
                               {"data", data}});
    }
    if (written.ok()) continue;  // read it back: the stored copy is the one every replica serves
    last = written.status();
    if (!kube::IsConflict(last) && !kube::IsAlreadyExists(last))
      return last.Annotate("writing TLS Secret " + name);
  }
  return last.ok() ? Status::Unavailable("TLS Secret " + name + " kept changing") : last;
}

Result<TlsMaterial> EnsureWebhookTls(kube::Client& client, const BootstrapConfig& config) {
  GPUPOOL_ASSIGN_OR_RETURN(TlsMaterial tls, EnsureTlsSecret(client, config.ns, config.secret,
                                                            ServiceDnsNames(config.service, config.ns)));
  if (!config.webhook_configuration.empty()) {
    GPUPOOL_RETURN_IF_ERROR(PatchCaBundle(client, config.webhook_configuration, tls.ca_pem)
                                .Annotate("caBundle of " + config.webhook_configuration));
  }
  return tls;
}

}  // namespace gpupool::webhook
