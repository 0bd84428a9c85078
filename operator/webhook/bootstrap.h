// TLS Secrets the operator keeps (tls.mode=operator's webhook Secret, the GPU servers' Secret): the
// replicas share one CA and serving certificate kept in a Secret (data tls.crt, tls.key, ca.crt, and
// the CA's key). The first replica to start generates them and writes the Secret with a
// resourceVersion precondition; a replica that loses that race reads the winner's. Later calls renew
// them (TlsKeeper, every 5 minutes). The webhook's CA goes into every webhook's clientConfig.caBundle
// of the MutatingWebhookConfiguration (only where it differs).
//
// Thread-safety: functions of their arguments; replicas and threads racing on one Secret are settled
// by its resourceVersion.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/kube/client.h"
#include "operator/webhook/tls.h"

namespace gpupool::webhook {

struct BootstrapConfig {
  std::string ns;                     // the operator's namespace (Secret and Service live there)
  std::string secret;                 // --webhook-tls-secret
  std::string service;                // --webhook-service
  std::string webhook_configuration;  // --webhook-configuration ("" = do not patch)
};

const kube::Resource& Secrets();
const kube::Resource& MutatingWebhookConfigurations();

// How long a new CA is in ca.crt (and caBundle) before it signs: time for the kubelets to update the
// Secret volumes and for the device plugins to copy ca.crt to their nodes (deviceplugin/ca_install.h).
inline constexpr std::chrono::hours kCaPublishLead{1};

// Told of each change the operator makes to a TLS Secret, with the Secret as written: a reason
// (CertificateCreated, CertificateRenewed, NewCAPublished, NewCASigning, CAReplaced) and what happened,
// for an Event on the Secret (kubectl describe secret).
using TlsEvent =
    std::function<void(const kube::Json& secret, const std::string& reason, const std::string& message)>;

Result<TlsMaterial> EnsureWebhookTls(
    kube::Client& client, const BootstrapConfig& config,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now(), const TlsEvent& event = {});
// A Secret `name` in `ns` holding a CA and a certificate for `dns_names` (tls.crt, tls.key, ca.crt):
// the stored one when it is complete and current at `now`, else renewed (bootstrap.cpp, Plan: a new
// CA is published kCaPublishLead before it signs) or generated, and written (a racing writer's copy
// wins). Also the GPU servers' certificate when the chart lets the operator make it
// (--server-tls-secret). The answer's ca_pem is the whole bundle to trust, a published CA included.
Result<TlsMaterial> EnsureTlsSecret(
    kube::Client& client, const std::string& ns, const std::string& name,
    const std::vector<std::string>& dns_names,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now(), const TlsEvent& event = {});
// Writes `ca_pem` into every webhook's caBundle of the configuration (NotFound when it is absent).
Status PatchCaBundle(kube::Client& client, const std::string& configuration, const std::string& ca_pem);

}  // namespace gpupool::webhook
