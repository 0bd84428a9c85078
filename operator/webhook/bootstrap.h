// Webhook TLS in tls.mode=operator (chart values.yaml): the replicas share one CA and serving
// certificate kept in a Secret (data tls.crt, tls.key, ca.crt). The first replica to start
// generates them and writes the Secret with a resourceVersion precondition; a replica that loses
// that race reads the winner's. Then the CA goes into every webhook's clientConfig.caBundle of the
// MutatingWebhookConfiguration (only where it differs).
//
// Thread-safety: call once at start, from one thread.
#pragma once

#include <string>

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
// Writes `ca_pem` into every webhook's caBundle of the configuration (NotFound when it is absent).
Status PatchCaBundle(kube::Client& client, const std::string& configuration, const std::string& ca_pem);

}  // namespace gpupool::webhook
