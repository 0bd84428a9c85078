#include "operator/webhook/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "common/read_file.h"
#include "common/units.h"

namespace gpupool::webhook {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using CertPtr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

bool IsIpAddress(const std::string& name) {
  unsigned char ip[16];
  return inet_pton(AF_INET, name.c_str(), ip) == 1 || inet_pton(AF_INET6, name.c_str(), ip) == 1;
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return Status::Internal("tls: cannot build extension " + value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : Status::Internal("tls: cannot add extension " + value);
}

// A certificate for `key`, signed by `issuer_key` (self-signed when issuer is null).
Result<CertPtr> MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                         std::chrono::hours validity, const std::vector<std::string>& sans,
                         Clock::time_point now) {
  CertPtr cert(X509_new());
  unsigned char serial[16];
  if (!cert || RAND_bytes(serial, sizeof serial) != 1)
    return Status::Internal("tls: out of memory or entropy");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), 2);
  std::time_t at = Clock::to_time_t(now);
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -3600, &at) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(validity.count() / 24),
                       static_cast<long>(validity.count() % 24) * 3600, &at) == nullptr) {
    return Status::Internal("tls: cannot set the validity");
  }
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("gpupool"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (issuer == nullptr) {
    GPUPOOL_RETURN_IF_ERROR(AddExt(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE"));
    GPUPOOL_RETURN_IF_ERROR(AddExt(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign"));
    GPUPOOL_RETURN_IF_ERROR(AddExt(cert.get(), signer, NID_subject_key_identifier, "hash"));
  } else {
    GPUPOOL_RETURN_IF_ERROR(AddExt(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
    GPUPOOL_RETURN_IF_ERROR(
        AddExt(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
    // clientAuth too: tests use these as client certificates for mutual TLS (remoting).
    GPUPOOL_RETURN_IF_ERROR(AddExt(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth"));
    std::string san;
    for (const std::string& alt : sans) {
      san += std::string(san.empty() ? "" : ",") + (IsIpAddress(alt) ? "IP:" : "DNS:") + alt;
    }
    GPUPOOL_RETURN_IF_ERROR(AddExt(cert.get(), signer, NID_subject_alt_name, san));
    GPUPOOL_RETURN_IF_ERROR(AddExt(cert.get(), signer, NID_authority_key_identifier, "keyid:always"));
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return Status::Internal("tls: signing failed");
  return cert;
}

std::string CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioText(bio.get());
}

std::string KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioText(bio.get());
}

// The first certificate in `pem`.
Result<CertPtr> ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Status::InvalidArgument("tls: the certificate is not PEM X.509");
  return cert;
}

Result<KeyPtr> ParseKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status::InvalidArgument("tls: the private key is not PEM");
  return key;
}

Result<std::chrono::system_clock::time_point> NotAfterOf(const X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
    return Status::InvalidArgument("tls: the certificate's notAfter is not a time");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

Result<TlsMaterial> GenerateCa(Clock::time_point now) {
  KeyPtr ca_key(EVP_EC_gen("P-256"));
  if (!ca_key) return Status::Internal("tls: cannot generate EC keys");
  GPUPOOL_ASSIGN_OR_RETURN(
      CertPtr ca, MakeCert(ca_key.get(), "gpupool-webhook-ca", nullptr, ca_key.get(), kCaValidity, {}, now));
  TlsMaterial authority;
  authority.ca_pem = CertPem(ca.get());
  authority.ca_key_pem = KeyPem(ca_key.get());
  return authority;
}

Result<TlsMaterial> GenerateTls(const std::vector<std::string>& dns_names, std::chrono::hours validity,
                                Clock::time_point now) {
  if (dns_names.empty()) return Status::InvalidArgument("tls: no DNS names for the serving certificate");
  GPUPOOL_ASSIGN_OR_RETURN(TlsMaterial authority, GenerateCa(now));
  return ReissueTls(authority, dns_names, validity, now);
}

Result<TlsMaterial> ReissueTls(const TlsMaterial& ca, const std::vector<std::string>& dns_names,
                               std::chrono::hours validity, Clock::time_point now) {
  if (dns_names.empty()) return Status::InvalidArgument("tls: no DNS names for the serving certificate");
  GPUPOOL_ASSIGN_OR_RETURN(CertPtr ca_cert, ParseCert(ca.ca_pem));
  GPUPOOL_ASSIGN_OR_RETURN(KeyPtr ca_key, ParseKey(ca.ca_key_pem));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1)
    return Status::InvalidArgument("tls: the CA key does not belong to the CA certificate");
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("tls: cannot generate EC keys");
  GPUPOOL_ASSIGN_OR_RETURN(CertPtr cert, MakeCert(key.get(), dns_names.front(), ca_cert.get(), ca_key.get(),
                                                  validity, dns_names, now));
  TlsMaterial out;
  out.ca_pem = ca.ca_pem;
  out.ca_key_pem = ca.ca_key_pem;
  out.cert_pem = CertPem(cert.get());
  out.key_pem = KeyPem(key.get());
  return out;
}

Result<std::chrono::system_clock::time_point> CertificateNotAfter(const std::string& pem) {
  GPUPOOL_ASSIGN_OR_RETURN(CertPtr cert, ParseCert(pem));
  return NotAfterOf(cert.get());
}

std::string UnexpiredCertificates(const std::string& pem, std::chrono::system_clock::time_point now) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::string kept;
  while (bio) {
    CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    auto end = NotAfterOf(cert.get());
    if (end.ok() && *end > now) kept += CertPem(cert.get());
  }
  ERR_clear_error();  // the read that ended the loop left its error queued
  return kept;
}

std::string RenewalReason(const TlsMaterial& m, const std::vector<std::string>& dns_names,
                          std::chrono::system_clock::time_point now) {
  auto cert = ParseCert(m.cert_pem);
  if (!cert.ok()) return "the certificate does not parse";
  const auto end = NotAfterOf(cert->get());
  if (!end.ok()) return "the certificate's end does not parse";
  if (*end - now < kRenewBefore) {
    return std::string("the certificate ") + (*end <= now ? "ended" : "ends") + " at " + FormatRfc3339(*end);
  }
  for (const std::string& name : dns_names) {
    const int match = IsIpAddress(name) ? X509_check_ip_asc(cert->get(), name.c_str(), 0)
                                        : X509_check_host(cert->get(), name.data(), name.size(), 0, nullptr);
    if (match != 1) return "the certificate does not name " + name;
  }
  return "";
}

Status CheckKeyMatches(const std::string& cert_pem, const std::string& key_pem) {
  GPUPOOL_ASSIGN_OR_RETURN(CertPtr cert, ParseCert(cert_pem));
  GPUPOOL_ASSIGN_OR_RETURN(KeyPtr key, ParseKey(key_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Status::InvalidArgument("tls: the private key does not belong to the certificate");
  }
  return Status::Ok();
}

Result<TlsMaterial> LoadTlsDir(const std::string& dir) {
  TlsMaterial out;
  GPUPOOL_ASSIGN_OR_RETURN(out.cert_pem, ReadTextFile(dir + "/tls.crt"));
  GPUPOOL_ASSIGN_OR_RETURN(out.key_pem, ReadTextFile(dir + "/tls.key"));
  out.ca_pem = ReadTextFile(dir + "/ca.crt").value_or("");
  GPUPOOL_RETURN_IF_ERROR(CheckKeyMatches(out.cert_pem, out.key_pem).Annotate(dir));
  return out;
}

std::vector<std::string> ServiceDnsNames(const std::string& service, const std::string& ns) {
  return {service + "." + ns + ".svc", service + "." + ns + ".svc.cluster.local"};
}

}  // namespace gpupool::webhook
