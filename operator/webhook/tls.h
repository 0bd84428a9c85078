// Webhook and GPU server TLS material: a CA and a serving certificate, generated with OpenSSL or read
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
  std::string ca_pem;      // the CA that signed cert_pem (caBundle); after a change of CA, also the old one
  std::string cert_pem;    // serving certificate
  std::string key_pem;     // its private key (PKCS#8 PEM)
  std::string ca_key_pem;  // the CA's private key where we made the CA ("" when read from a directory)
};

// What GenerateTls makes lasts: the CA ten years, serving certificates one year; they are renewed
// when less than kRenewBefore is left (EnsureTlsSecret, TlsKeeper).
inline constexpr std::chrono::hours kCaValidity{24 * 3650};
inline constexpr std::chrono::hours kServingValidity{24 * 365};
inline constexpr std::chrono::hours kRenewBefore{24 * 30};

// Certificates made here are valid from an hour before `now` (clock skew) for their validity; `now`
// is the time the renewal decision was made at (tests move it).
using Clock = std::chrono::system_clock;

// A fresh CA alone (ca_pem and ca_key_pem), valid for kCaValidity.
Result<TlsMaterial> GenerateCa(Clock::time_point now = Clock::now());

// A fresh CA and a certificate for `dns_names` (the first is the common name; IP addresses become
// IP SANs), valid for `validity` (the CA for kCaValidity).
Result<TlsMaterial> GenerateTls(const std::vector<std::string>& dns_names,
                                std::chrono::hours validity = kServingValidity,
                                Clock::time_point now = Clock::now());

// A new key and certificate for `dns_names` signed by the CA of `ca` (which needs ca_key_pem); the
// CA, and so every client's trust in it, stays.
Result<TlsMaterial> ReissueTls(const TlsMaterial& ca, const std::vector<std::string>& dns_names,
                               std::chrono::hours validity = kServingValidity,
                               Clock::time_point now = Clock::now());

// The end of the validity of the first certificate in `pem`.
Result<std::chrono::system_clock::time_point> CertificateNotAfter(const std::string& pem);

// The certificates of the PEM bundle `pem` that have not ended at `now`, in their order, as PEM
// (what a CA bundle keeps of the CAs it has held).
std::string UnexpiredCertificates(const std::string& pem, std::chrono::system_clock::time_point now);

// Why `m` should be renewed at `now` ("" when it need not): its serving certificate ends within
// kRenewBefore or does not name each of `dns_names`.
std::string RenewalReason(const TlsMaterial& m, const std::vector<std::string>& dns_names,
                          std::chrono::system_clock::time_point now);

// tls.crt, tls.key and (optional) ca.crt of `dir`; the key must match the certificate.
Result<TlsMaterial> LoadTlsDir(const std::string& dir);

// InvalidArgument when `key_pem` is not the private key of `cert_pem` or either does not parse.
Status CheckKeyMatches(const std::string& cert_pem, const std::string& key_pem);

// The names a webhook Service answers to: <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local.
std::vector<std::string> ServiceDnsNames(const std::string& service, const std::string& ns);

}  // namespace gpupool::webhook
