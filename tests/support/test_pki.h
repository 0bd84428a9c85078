// Certificates for TLS tests, generated when the test runs (no private key is committed): a server
// certificate for given names from one CA, and a client certificate from a second CA, written as
// PEM files into a temporary directory.
//
// Thread-safety: one thread per object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "remoting/protocol/tls.h"
#include "tests/support/process.h"

namespace gpupool::testing {

struct TestPki {
  TempDir dir;
  protocol::TlsServerFiles server;  // server.pem / server-key.pem, no client CA
  protocol::TlsClientFiles client;  // trusts the server's CA (ca.pem); no client certificate
  std::string client_ca;            // client-ca.pem: the CA of client.pem / client-key.pem

  // `names`: DNS names and IP addresses of the server certificate.
  static std::unique_ptr<TestPki> Create(const std::vector<std::string>& names = {"gpupool-server.test",
                                                                                  "127.0.0.1"});
  // Replaces the server certificate and key with ones from a fresh CA, written to new-ca.pem
  // (as a rotation does); returns client files that trust the new CA.
  protocol::TlsClientFiles Rotate(const std::vector<std::string>& names = {"127.0.0.1"});
  // `client` plus the client certificate.
  protocol::TlsClientFiles WithClientCertificate() const;
};

}  // namespace gpupool::testing
