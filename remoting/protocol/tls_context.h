// OpenSSL set-up behind TlsChannel (tls.h): contexts built from certificate files, the socket BIO,
// and error text. Internal to remoting/protocol.
//
// Thread-safety: free functions; each returned object belongs to its caller.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "remoting/protocol/tls.h"

namespace gpupool::protocol::tls_internal {

struct CtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// Contexts for one handshake: TLS 1.2+, no renegotiation, files read now.
Result<CtxPtr> ServerContext(const TlsServerFiles& files);
Result<CtxPtr> ClientContext(const TlsClientFiles& files);

// Socket state the BIO reads and writes through (send with MSG_NOSIGNAL: a closed peer must give an
// error, not SIGPIPE in the application). Encrypted records collect in `out` and go out with one send
// per BIO_flush (or when `out` is full) instead of one per 16 KiB record. Must outlive the SSL it is
// attached to.
struct SocketState {
  int fd = -1;
  bool eof = false;
  std::string out;           // records not yet sent ...
  std::size_t out_sent = 0;  // ... of which this many have been
};
// Attaches a BIO over `state` to `ssl` for both directions.
Status AttachSocket(SSL* ssl, SocketState* state);

// The queued OpenSSL errors as text ("; "-separated), emptying the queue; `fallback` when none.
std::string DrainErrors(const std::string& fallback);

}  // namespace gpupool::protocol::tls_internal
