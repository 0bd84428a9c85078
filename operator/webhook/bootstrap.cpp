#include "operator/webhook/bootstrap.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "common/kube/base64.h"
#include "common/kube/errors.h"
#include "common/log.h"
#include "common/units.h"
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

constexpr const char* kNextCaPublished = "gpupool.io/next-ca-published";

// A CA published in ca.crt but not signing yet: its certificate and key (data next-ca.crt,
// next-ca.key) and when it was published (annotation kNextCaPublished). Anything missing or broken:
// none, and a new one is published.
struct NextCa {
  std::string cert_pem, key_pem;
  std::chrono::system_clock::time_point published;
};

std::optional<NextCa> PendingCa(const kube::Json& secret) {
  const kube::Json& data = JsonAt(secret, "data");
  auto cert = kube::Base64Decode(JsonString(data, "next-ca.crt"));
  auto key = kube::Base64Decode(JsonString(data, "next-ca.key"));
  auto published =
      ParseRfc3339(JsonString(JsonAt(JsonAt(secret, "metadata"), "annotations"), kNextCaPublished));
  if (!cert.ok() || !key.ok() || !published.ok() || cert->empty() || key->empty()) return std::nullopt;
  return NextCa{*cert, *key, *published};
}

// What a kept Secret becomes at `now`: `material` (none: it stays as it is) and the CA it publishes
// for later, if any.
struct Renewal {
  std::optional<TlsMaterial> material;
  std::optional<NextCa> next;
  std::string reason;  // TlsEvent's
  std::string why;
};

Result<TlsMaterial> IssueFrom(const TlsMaterial& authority, const std::vector<std::string>& names,
                              std::chrono::system_clock::time_point now) {
  GPUPOOL_ASSIGN_OR_RETURN(auto ca_end, CertificateNotAfter(authority.ca_pem));
  const auto left = std::chrono::duration_cast<std::chrono::hours>(ca_end - now);
  return ReissueTls(authority, names, std::min(kServingValidity, left), now);
}

// Certificates are renewed from the same CA while it has 2 × kRenewBefore left. A new CA goes into
// ca.crt after the one that signs, and signs only kCaPublishLead later, once the device plugins have
// copied ca.crt to their nodes and caBundle holds it: no client ever meets a certificate from a CA it
// has not been given. Only a certificate that can no longer be served (ended, or not
// naming the service) is replaced at once, by a new CA where the stored one cannot sign.
Result<Renewal> Plan(const TlsMaterial& stored, const std::optional<NextCa>& pending,
                     const std::vector<std::string>& names, std::chrono::system_clock::time_point now) {
  const std::string reason = RenewalReason(stored, names, now);
  // Asked as of kRenewBefore ago, RenewalReason names only a certificate that has ended or does not
  // fit the names: one that cannot be served any more.
  const bool unusable = !RenewalReason(stored, names, now - kRenewBefore).empty();
  const auto ca_end = CertificateNotAfter(stored.ca_pem);
  const bool ca_due =
      stored.ca_key_pem.empty() ? !reason.empty() : (!ca_end.ok() || *ca_end - now < 2 * kRenewBefore);
  const std::string previous = UnexpiredCertificates(stored.ca_pem, now);
  Renewal r;
  if (pending) {
    if (now - pending->published < kCaPublishLead && !unusable) return r;
    GPUPOOL_ASSIGN_OR_RETURN(TlsMaterial issued,
                             IssueFrom({pending->cert_pem, "", "", pending->key_pem}, names, now));
    std::string others = previous;
    if (auto at = others.find(pending->cert_pem); at != std::string::npos)
      others.erase(at, pending->cert_pem.size());
    issued.ca_pem = pending->cert_pem + others;
    r.material = std::move(issued);
    r.reason = "NewCASigning";
    r.why = "the CA published at " + FormatRfc3339(pending->published) + " takes over signing";
    return r;
  }
  if (!ca_due && !reason.empty()) {
    auto reissued = IssueFrom(stored, names, now);
    if (reissued.ok()) {
      reissued->ca_pem = previous;
      r.material = std::move(*reissued);
      r.reason = "CertificateRenewed";
      r.why = reason + "; renewing it from the same CA";
      return r;
    }
    GPUPOOL_LOG(kWarn) << "cannot renew the certificate from the stored CA (" << reissued.status().message()
                       << "): a new CA is due";
  } else if (!ca_due) {
    return r;
  }
  const std::string why = !reason.empty() ? reason : "the CA ends at " + FormatRfc3339(ca_end.value_or(now));
  GPUPOOL_ASSIGN_OR_RETURN(TlsMaterial ca, GenerateCa(now));
  if (unusable) {
    GPUPOOL_ASSIGN_OR_RETURN(TlsMaterial fresh, IssueFrom(ca, names, now));
    fresh.ca_pem += previous;
    r.material = std::move(fresh);
    r.reason = "CAReplaced";
    r.why = why + "; a new CA signs its replacement at once, beside the old one in ca.crt";
    return r;
  }
  TlsMaterial published = stored;
  published.ca_pem = previous + ca.ca_pem;  // the signing CA stays first
  r.material = std::move(published);
  r.next = NextCa{ca.ca_pem, ca.ca_key_pem, now};
  r.reason = "NewCAPublished";
  r.why =
      why + "; publishing a new CA in ca.crt, to sign from " + FormatRfc3339(now + kCaPublishLead) + " on";
  return r;
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
                                    const std::vector<std::string>& dns_names,
                                    std::chrono::system_clock::time_point now, const TlsEvent& event) {
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto secret = client.Get(Secrets(), ns, name);
    if (!secret.ok() && !kube::IsNotFound(secret.status()))
      return secret.status().Annotate("TLS Secret " + name);
    TlsMaterial next;
    std::optional<NextCa> publish;
    std::string reason = "CertificateCreated", why = "a new CA and a certificate for " + dns_names.front();
    if (secret.ok()) {
      auto stored = FromSecret(*secret);
      if (stored.ok()) {
        const std::optional<NextCa> pending = PendingCa(*secret);
        GPUPOOL_ASSIGN_OR_RETURN(Renewal renewal, Plan(*stored, pending, dns_names, now));
        if (!renewal.material) return stored;
        GPUPOOL_LOG(kInfo) << "TLS Secret " << ns << "/" << name << ": " << renewal.why;
        next = std::move(*renewal.material);
        publish = std::move(renewal.next);
        reason = std::move(renewal.reason);
        why = std::move(renewal.why);
      }
    }
    if (next.cert_pem.empty()) {
      GPUPOOL_ASSIGN_OR_RETURN(next, GenerateTls(dns_names, kServingValidity, now));
    }
    kube::Json data = {{"tls.crt", kube::Base64(next.cert_pem)},
                       {"tls.key", kube::Base64(next.key_pem)},
                       {"ca.crt", kube::Base64(next.ca_pem)},
                       // Read by the operator only: every pod that mounts the Secret lists the keys
                       // it mounts, and none lists these (deploy/helm).
                       {"ca.key", kube::Base64(next.ca_key_pem)}};
    if (publish) {
      data["next-ca.crt"] = kube::Base64(publish->cert_pem);
      data["next-ca.key"] = kube::Base64(publish->key_pem);
    }
    Result<kube::Json> written = Status::Internal("unwritten");
    if (secret.ok()) {
      kube::Json updated = *secret;
      updated["data"] = data;  // keeps metadata.resourceVersion: a racing replica gets 409
      kube::Json& annotations = updated["metadata"]["annotations"];
      if (publish) {
        annotations[kNextCaPublished] = FormatRfc3339(publish->published);
      } else if (annotations.is_object()) {
        annotations.erase(kNextCaPublished);
      }
      if (annotations.is_null() || annotations.empty()) updated["metadata"].erase("annotations");
      written = client.Update(Secrets(), updated);
    } else {
      written = client.Create(Secrets(), ns,
                              {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", name}, {"namespace", ns}}},
                               {"type", "Opaque"},
                               {"data", data}});
    }
    if (written.ok()) {
      if (event) event(*written, reason, why);
      continue;  // read it back: the stored copy is the one every replica serves
    }
    last = written.status();
    if (!kube::IsConflict(last) && !kube::IsAlreadyExists(last))
      return last.Annotate("writing TLS Secret " + name);
  }
  return last.ok() ? Status::Unavailable("TLS Secret " + name + " kept changing") : last;
}

Result<TlsMaterial> EnsureWebhookTls(kube::Client& client, const BootstrapConfig& config,
                                     std::chrono::system_clock::time_point now, const TlsEvent& event) {
  GPUPOOL_ASSIGN_OR_RETURN(TlsMaterial tls,
                           EnsureTlsSecret(client, config.ns, config.secret,
                                           ServiceDnsNames(config.service, config.ns), now, event));
  if (!config.webhook_configuration.empty()) {
    GPUPOOL_RETURN_IF_ERROR(PatchCaBundle(client, config.webhook_configuration, tls.ca_pem)
                                .Annotate("caBundle of " + config.webhook_configuration));
  }
  return tls;
}

}  // namespace gpupool::webhook
