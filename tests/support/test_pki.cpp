#include "tests/support/test_pki.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "operator/webhook/tls.h"

namespace gpupool::testing {
namespace {

// Written to a temporary name and renamed over the old file, as a Secret volume update does, so a
// reader never sees half a file.
void Write(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp, std::ios::binary) << text;
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

}  // namespace

std::unique_ptr<TestPki> TestPki::Create(const std::vector<std::string>& names) {
  auto pki = std::make_unique<TestPki>();
  auto server = webhook::GenerateTls(names);
  auto client = webhook::GenerateTls({"some-client"});
  REQUIRE(server.ok());
  REQUIRE(client.ok());
  const TempDir& d = pki->dir;
  Write(d.File("ca.pem"), server->ca_pem);
  Write(d.File("server.pem"), server->cert_pem);
  Write(d.File("server-key.pem"), server->key_pem);
  Write(d.File("client-ca.pem"), client->ca_pem);
  Write(d.File("client.pem"), client->cert_pem);
  Write(d.File("client-key.pem"), client->key_pem);
  pki->server = {d.File("server.pem"), d.File("server-key.pem"), ""};
  pki->client = {d.File("ca.pem"), "", "", ""};
  pki->client_ca = d.File("client-ca.pem");
  return pki;
}

protocol::TlsClientFiles TestPki::Rotate(const std::vector<std::string>& names) {
  auto fresh = webhook::GenerateTls(names);
  REQUIRE(fresh.ok());
  Write(dir.File("new-ca.pem"), fresh->ca_pem);
  // Key first: between the two renames the pair does not match, and a handshake then fails
  // cleanly (the server reads both files per connection).
  Write(dir.File("server-key.pem"), fresh->key_pem);
  Write(dir.File("server.pem"), fresh->cert_pem);
  protocol::TlsClientFiles files = client;
  files.ca_file = dir.File("new-ca.pem");
  return files;
}

protocol::TlsClientFiles TestPki::WithClientCertificate() const {
  protocol::TlsClientFiles files = client;
  files.cert_file = dir.File("client.pem");
  files.key_file = dir.File("client-key.pem");
  return files;
}

}  // namespace gpupool::testing
