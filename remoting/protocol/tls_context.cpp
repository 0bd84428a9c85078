// OpenSSL contexts from certificate files, and a socket BIO that never raises SIGPIPE.
#include "remoting/protocol/tls_context.h"

#include <errno.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <cstdint>

namespace gpupool::protocol::tls_internal {
namespace {

// Records collected before a send: 16 of TLS's largest (a 1 MiB frame then costs 4 sends, not 64).
constexpr std::size_t kWriteBuffer = 16 * 16 * 1024;
// Whole records per recv, also several at once (read-ahead must be on).
constexpr std::size_t kReadBuffer = 256 * 1024;

// gpupool brings its own settings: a system openssl.cnf (in an application's container, for the
// client) must not change what the library accepts, nor fail to load providers we do not have.
void InitOpenSsl() {
  static const bool done = [] {
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    return true;
  }();
  (void)done;
}

Result<CtxPtr> BaseContext(const SSL_METHOD* method) {
  InitOpenSsl();
  CtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return Status::Internal(DrainErrors("SSL_CTX_new failed"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A closed connection is detected by the framing (a frame cut short), so a missing close_notify
  // is an ordinary end of stream, not an error; renegotiation would break the full-duplex locking.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Whole records per recv: a stream of small replies costs one system call, not two per record.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  SSL_CTX_set_default_read_buffer_len(ctx.get(), kReadBuffer);
  return ctx;
}

Status LoadKeyPair(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Status::InvalidArgument("cannot load certificate " + cert_file + ": " + DrainErrors("bad PEM"));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::InvalidArgument("cannot load private key " + key_file + ": " + DrainErrors("bad PEM"));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("private key " + key_file + " does not match certificate " + cert_file);
  }
  return Status::Ok();
}

Status LoadCa(SSL_CTX* ctx, const std::string& ca_file) {
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return Status::InvalidArgument("cannot load CA certificates " + ca_file + ": " + DrainErrors("bad PEM"));
  }
  return Status::Ok();
}

SocketState* State(BIO* bio) {
  return static_cast<SocketState*>(BIO_get_data(bio));
}

// Sends what `out` holds. 1: all of it; 0: the socket is full (retry set) or failed (errno says).
int Drain(BIO* bio) {
  SocketState* s = State(bio);
  while (s->out_sent < s->out.size()) {
    ssize_t n = ::send(s->fd, s->out.data() + s->out_sent, s->out.size() - s->out_sent, MSG_NOSIGNAL);
    if (n >= 0) {
      s->out_sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return 0;
  }
  s->out.clear();
  s->out_sent = 0;
  return 1;
}

int BioWrite(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  SocketState* s = State(bio);
  if (s->out.size() - s->out_sent >= kWriteBuffer && Drain(bio) != 1) return 0;
  s->out.append(data, size);
  *written = size;
  return 1;
}

int BioRead(BIO* bio, char* out, std::size_t size, std::size_t* got) {
  BIO_clear_retry_flags(bio);
  while (true) {
    ssize_t n = ::recv(State(bio)->fd, out, size, 0);
    if (n > 0) {
      *got = static_cast<std::size_t>(n);
      return 1;
    }
    if (n == 0) {
      State(bio)->eof = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return 0;
  }
}

long BioCtrl(BIO* bio, int cmd, long, void*) {  // NOLINT(google-runtime-int): OpenSSL's signature
  if (cmd == BIO_CTRL_FLUSH) {
    BIO_clear_retry_flags(bio);
    return Drain(bio);
  }
  if (cmd == BIO_CTRL_WPENDING) return static_cast<long>(State(bio)->out.size() - State(bio)->out_sent);
  if (cmd == BIO_CTRL_EOF) return State(bio)->eof ? 1 : 0;  // OpenSSL asks after a 0-byte read
  return 0;
}

const BIO_METHOD* SocketMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "gpupool socket");
    if (m == nullptr) return m;
    BIO_meth_set_write_ex(m, BioWrite);
    BIO_meth_set_read_ex(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    return m;
  }();
  return method;
}

}  // namespace

Result<CtxPtr> ServerContext(const TlsServerFiles& files) {
  GPUPOOL_ASSIGN_OR_RETURN(CtxPtr ctx, BaseContext(TLS_server_method()));
  GPUPOOL_RETURN_IF_ERROR(LoadKeyPair(ctx.get(), files.cert_file, files.key_file));
  // Every session is a fresh worker process: resumption tickets would never be used.
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  if (!files.client_ca_file.empty()) {
    GPUPOOL_RETURN_IF_ERROR(LoadCa(ctx.get(), files.client_ca_file));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

Result<CtxPtr> ClientContext(const TlsClientFiles& files) {
  if (files.ca_file.empty())
    return Status::InvalidArgument("TLS needs a CA file to check the server against");
  GPUPOOL_ASSIGN_OR_RETURN(CtxPtr ctx, BaseContext(TLS_client_method()));
  GPUPOOL_RETURN_IF_ERROR(LoadCa(ctx.get(), files.ca_file));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (files.cert_file.empty() != files.key_file.empty()) {
    return Status::InvalidArgument("a client certificate needs both a certificate and a key file");
  }
  if (!files.cert_file.empty())
    GPUPOOL_RETURN_IF_ERROR(LoadKeyPair(ctx.get(), files.cert_file, files.key_file));
  return ctx;
}

Status AttachSocket(SSL* ssl, SocketState* state) {
  const BIO_METHOD* method = SocketMethod();
  BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) return Status::Internal(DrainErrors("cannot create the socket BIO"));
  BIO_set_data(bio, state);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // one BIO for both directions: SSL_free frees it once
  return Status::Ok();
}

std::string DrainErrors(const std::string& fallback) {
  std::string text;
  while (unsigned long e = ERR_get_error()) {  // NOLINT(google-runtime-int): OpenSSL's type
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    const char* reason = ERR_reason_error_string(e);
    text += reason != nullptr ? reason : buf;
  }
  return text.empty() ? fallback : text;
}

}  // namespace gpupool::protocol::tls_internal
