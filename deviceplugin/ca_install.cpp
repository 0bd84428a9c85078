#include "deviceplugin/ca_install.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "common/read_file.h"
#include "common/replace_file.h"

namespace gpupool::deviceplugin {
namespace {

// Certificates in a PEM bundle, counted up to the first block that does not parse as one.
int CountCertificates(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  int count = 0;
  while (bio) {
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                     X509_free);
    if (!cert) break;
    ++count;
  }
  ERR_clear_error();  // the read that ended the loop left its error queued
  return count;
}

}  // namespace

Result<CaInstall> InstallCaBundle(const std::string& source, const std::string& target) {
  auto bundle = ReadTextFile(source);
  if (!bundle.ok()) return bundle.status().Annotate("the servers' CA bundle");
  CaInstall done;
  done.certificates = CountCertificates(*bundle);
  if (done.certificates == 0) {
    return Status::InvalidArgument("the servers' CA bundle " + source + " holds no PEM certificate; " +
                                   target + " is left as it was");
  }
  auto installed = ReadTextFile(target);
  if (installed.ok() && *installed == *bundle) return done;
  GPUPOOL_RETURN_IF_ERROR(ReplaceFile(target, *bundle));
  done.replaced = true;
  return done;
}

}  // namespace gpupool::deviceplugin
