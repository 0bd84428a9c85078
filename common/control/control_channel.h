// How a Control API client (the operator, `gpupool servers`/`top`, benchmarks) reaches gpupool-server's
// Control port and proves who it is: TLS checked against a CA (the server's data-port certificate
// serves the Control port too), and a bearer token sent with every call. The token file is read for
// each call, so a rotated token is used at once; the CA is read when the channel is made.
//
// Thread-safety: pure functions; channels are gRPC's (thread-safe).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace gpupool::control {

struct ControlAccess {
  std::string tls_ca_file;      // set: TLS, the server certificate must chain to this CA
  std::string tls_server_name;  // the name the certificate must carry; empty: the target's host
  std::string tls_cert_file;    // optional client certificate (for a server's --tls-client-ca-file) ...
  std::string tls_key_file;     // ... and its key
  std::string token_file;       // set: "authorization: Bearer <its content>" on every call
};

// A channel to `target` ("host:port" or "unix:/path"). A TLS file that cannot be read is an error.
Result<std::shared_ptr<grpc::Channel>> OpenControlChannel(const std::string& target,
                                                          const ControlAccess& access);

// Adds the bearer token to `context` (nothing without a token file). A token file that cannot be
// read or is empty is an error naming it.
Status AuthorizeCall(const ControlAccess& access, grpc::ClientContext* context);

}  // namespace gpupool::control
