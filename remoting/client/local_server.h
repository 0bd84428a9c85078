// Which connection the client uses for its bound GPU: the gpupool-server on this node over its Unix
// socket (GPUPOOL_LOCAL_SOCKET, which the device plugin sets where that socket exists), or the
// binding's TCP address.
//
// The local server is used only when it proves to be the bound one: the client connects to the
// socket, authenticates exactly as over TCP (same Hello: shared token, pod UID, pod token; the
// server's checks do not depend on the transport), asks which GPUs the session sees
// (cuDeviceGetCount / cuDeviceGetUuid, the same calls the client makes anyway) and keeps the
// connection only when the binding's GPU UUID is one of them. Addresses are never compared: a node's
// name, IP or port says nothing about which server answers on a socket. Before connecting, the GPU
// list the server may keep next to its socket (common/local_gpu_list.h) lets the client skip, without
// a handshake, a server that lists other GPUs only. Anything else (no socket at the path, connection
// refused, handshake refused, another GPU) closes the local connection and uses TCP, with one debug
// line that says why. Over the socket the session gets the copy ring unless
// GPUPOOL_COPY_RING=off (session.h).
//
// Thread-safety: called once, from State::Connect.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "remoting/client/server_address.h"
#include "remoting/client/session.h"

namespace gpupool::client {

// The session for `address`; logs once (debug: GPUPOOL_LOG_LEVEL=debug) which path the bound GPU uses when a
// local socket was offered.
Result<std::unique_ptr<Session>> OpenBoundSession(const ServerAddress& address);

// The local attempt alone: the session over `address.local_socket` when its server serves
// `address.gpu_uuid`, else why not (NotFound: no socket there; FailedPrecondition: another GPU, listed
// or shown; the connection's or handshake's error otherwise).
Result<std::unique_ptr<Session>> OpenLocalSession(const ServerAddress& address);

}  // namespace gpupool::client
