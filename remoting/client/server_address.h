// Where the client finds its server: GPUPOOL_SERVER ("host:port" or "unix:/path"), else the server
// of the pod binding in the downward-API annotations file named by GPUPOOL_POD_INFO
// (common/binding/binding.h), whose session sees every GPU the binding names there. The token, when
// GPUPOOL_TOKEN_FILE names a file, is its content with trailing whitespace removed. TLS on TCP when
// GPUPOOL_TLS_CA_FILE names the CA to check the server against; GPUPOOL_TLS_SERVER_NAME overrides the name
// checked (default: the host connected to), and GPUPOOL_TLS_CERT_FILE / GPUPOOL_TLS_KEY_FILE give a client
// certificate for mutual TLS. GPUPOOL_LOCAL_SOCKET (set by the device plugin on nodes that run a
// gpupool-server) names that server's Unix socket; it is only considered for a binding, whose GPU UUID
// decides whether the local server is the one bound (local_server.h). GPUPOOL_POD_UID, when set, is the pod
// UID sent in the handshake: the server gives the session the share it admitted for that pod (a pod spec sets
// it from the downward API's metadata.uid; benchmarks and tests set it to pods they admitted through
// Control). GPUPOOL_POD_TOKEN_FILE, when set, names the pod's projected service-account token (audience
// gpupool.io; the webhook sets it to the token in the gpupool volume). It is read for every
// connection, because the kubelet rotates it, and sent in the handshake for the server to check.
//
// Thread-safety: pure functions; the environment is read through `env`.
#pragma once

#include <functional>
#include <string>

#include "common/endpoint.h"
#include "common/status.h"
#include "remoting/protocol/tls.h"

namespace gpupool::client {

using EnvLookup = std::function<std::string(const char* name)>;
std::string ProcessEnvironment(const char* name);

struct ServerAddress {
  Endpoint endpoint;
  std::string token;
  bool use_tls = false;  // TCP only: a Unix socket is local and never encrypted
  protocol::TlsClientFiles tls{};
  std::string pod_uid;
  std::string pod_token;     // the pod's service-account token; empty outside a cluster
  std::string gpu_uuid;      // the binding's first GPU ("GPU-…"), which names its server; else empty
  std::string local_socket;  // GPUPOOL_LOCAL_SOCKET with a binding, else empty
  // Whether a session over a Unix socket may share memory with the server for copies (the copy ring,
  // deferred staging; GPUPOOL_COPY_RING=off says no too). A short session that moves no data (NVML's)
  // asks for none: the server would map, and on a GPU pin, 72 MiB for nothing.
  bool copy_ring = true;
};

Result<ServerAddress> FindServer(const EnvLookup& env = ProcessEnvironment);

}  // namespace gpupool::client
