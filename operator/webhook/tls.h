// Webhook TLS material: a CA and a serving certificate, generated with OpenSSL at start or read
// from a directory (cert-manager's Secret layout: tls.crt, tls.key, ca.crt).
//
// Generated keys are ECDSA P-256 (what the chart's cert-manager Certificate asks for too); the CA
// is what the MutatingWebhookConfiguration's caBundle must hold.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace gpupool::webhook {

struct TlsMaterial {
  std::string ca_pem;    // the CA that signed cert_pem (caBundle)
  std::string cert_pem;  // serving certificate
  std::string key_pem;   // its private key (PKCS#8 PEM)
};

// A fresh CA and a certificate for `dns_names` (the first is the common name; IP addresses become
// IP SANs), valid from an hour
// ago (clock skew) for `validity`.
Result<TlsMaterial> GenerateTls(const std::vector<std::string>& dns_names,
                                std::chrono::hours validity = std::chrono::hours(24 * 365));

// tls.crt, tls.key and (optional) ca.crt of `dir`; the key must match the certificate.
Result<TlsMaterial> LoadTlsDir(const std::string& dir);

// InvalidArgument when `key_pem` is not the private key of `cert_pem` or either does not parse.
Status CheckKeyMatches(const std::string& cert_pem, const std::string& key_pem);

// The names a webhook Service answers to: <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local.
std::vector<std::string> ServiceDnsNames(const std::string& service, const std::string& ns);

}  // namespace gpupool::webhook
