#include "tests/deviceplugin/test_cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>

namespace gpupool::testing {
namespace {

bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Status WriteSelfSignedCert(const std::string& prefix) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return Status::Internal("OpenSSL: cannot make a key or certificate");
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  if (!AddExtension(x, NID_subject_alt_name, "IP:127.0.0.1") ||
      !AddExtension(x, NID_basic_constraints, "critical,CA:TRUE") ||
      X509_sign(x, key.get(), EVP_sha256()) == 0)
    return Status::Internal("OpenSSL: cannot build the certificate");
  FILE* crt = std::fopen((prefix + ".crt").c_str(), "w");
  FILE* pem = std::fopen((prefix + ".key").c_str(), "w");
  bool ok = crt != nullptr && pem != nullptr && PEM_write_X509(crt, x) == 1 &&
            PEM_write_PrivateKey(pem, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (crt != nullptr) std::fclose(crt);
  if (pem != nullptr) std::fclose(pem);
  return ok ? Status::Ok() : Status::Internal("cannot write " + prefix + ".crt/.key");
}

}  // namespace gpupool::testing
