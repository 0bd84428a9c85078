#include "operator/webhook/bootstrap.h"

#include <algorithm>
#include <chrono>

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
  GPUPOOL_ASSIGN_OR_RETURN(m.ca_key_pem, kube::Base64Decode(JsonString(data, "ca.key")));
  if (m.cert_pem.empty() || m.key_pem.empty() || m.ca_pem.empty()) {
    return Status::NotFound("the Secret holds no certificate yet");
  }
  GPUPOOL_RETURN_IF_ERROR(CheckKeyMatches(m.cert_pem, m.key_pem));
  return m;
}

// What replaces `stored` when it needs renewal: a certificate from the same CA while the CA has
// 2 × kRenewBefore left (clients and caBundles keep trusting it), else a new CA. The old CA then stays
// in ca.crt beside the new one while it is valid, so whoever reads ca.crt trusts the servers that
// still serve the old certificate until they load the new one.
Result<TlsMaterial> Renewed(const TlsMaterial& stored, const std::vector<std::string>& dns_names,
                            std::chrono::system_clock::time_point now) {
  auto ca_end = CertificateNotAfter(stored.ca_pem);
  if (ca_end.ok() && *ca_end - now >= 2 * kRenewBefore && !stored.ca_key_pem.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::hours>(*ca_end - now);
    auto reissued = ReissueTls(stored, dns_names, std::min(kServingValidity, left));
    if (reissued.ok()) return reissued;
    GPUPOOL_LOG(kWarn) << "cannot renew the certificate from the stored CA (" << reissued.status().message()
                       << "): making a new CA";
  }
  GPUPOOL_ASSIGN_OR_RETURN(TlsMaterial fresh, GenerateTls(dns_names));
  if (ca_end.ok() && *ca_end > now) fresh.ca_pem += stored.ca_pem;
  return fresh;
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
    TlsMaterial next;
    if (secret.ok()) {
      auto stored = FromSecret(*secret);
      if (stored.ok()) {
        const auto now = std::chrono::system_clock::now();
        const std::string why = RenewalReason(*stored, dns_names, now);
        if (why.empty()) return stored;
        GPUPOOL_ASSIGN_OR_RETURN(next, Renewed(*stored, dns_names, now));
        GPUPOOL_LOG(kInfo)
            << "TLS Secret " << ns << "/" << name << ": " << why << "; renewing it"
            << (next.ca_key_pem == stored->ca_key_pem
                    ? " from the same CA"
                    : " with a new CA, kept in ca.crt beside the old one (device plugins install it on their "
                      "nodes when their Secret volume changes)");
      }
    }
    if (next.cert_pem.empty()) {
      GPUPOOL_ASSIGN_OR_RETURN(next, GenerateTls(dns_names));
    }
    kube::Json data = {{"tls.crt", kube::Base64(next.cert_pem)},
                       {"tls.key", kube::Base64(next.key_pem)},
                       {"ca.crt", kube::Base64(next.ca_pem)},
                       // Read by the operator only: every pod that mounts the Secret lists the keys
                       // it mounts, and none lists this one (deploy/helm).
                       {"ca.key", kube::Base64(next.ca_key_pem)}};
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
