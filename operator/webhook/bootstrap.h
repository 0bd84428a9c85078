// Webhook TLS in tls.mode=operator (chart values.yaml): the replicas share one CA and serving
// certificate kept in a Secret (data tls.crt, tls.key, ca.crt). The first replica to start
// generates them and writes the Secret with a resourceVersion precondition; a replica that loses
// that race reads the winner's. Then the CA goes into every webhook's clientConfig.caBundle of the
// MutatingWebhookConfiguration (only where it differs).
//
// Thread-safety: call once at start, from one thread.
#pragma once

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

Result<TlsMaterial> EnsureWebhookTls(kube::Client& client, const BootstrapConfig& config);
// A Secret `name` in `ns` holding a CA and a certificate for `dns_names` (tls.crt, tls.key, ca.crt):
// the stored one when it is complete, else generated and written (a racing writer's copy wins).
// Also the GPU servers' certificate when the chart lets the operator make it (--server-tls-secret).
Result<TlsMaterial> EnsureTlsSecret(kube::Client& client, const std::string& ns, const std::string& name,
                                    const std::vector<std::string>& dns_names);
// Writes `ca_pem` into every webhook's caBundle of the configuration (NotFound when it is absent).
Status PatchCaBundle(kube::Client& client, const std::string& configuration, const std::string& ca_pem);

}  // namespace gpupool::webhook
