// TlsChannel: handshakes with a deadline, and full-duplex record I/O on a non-blocking socket.
#include "remoting/protocol/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <cstring>

#include "remoting/protocol/tls_context.h"

namespace gpupool::protocol {

using namespace tls_internal;  // NOLINT(google-build-using-namespace): this file's own internals

struct TlsChannel::Handle {
  CtxPtr ctx;
  SslPtr ssl;
  SocketState socket;
};

namespace {

using Clock = std::chrono::steady_clock;

// Small parts are copied into one record; parts at least this large go to SSL_write as they are.
constexpr std::size_t kDirectWrite = 4096;
constexpr std::size_t kMaxRecord = 16384;  // TLS's largest record plaintext

// Waits until `fd` is ready for `events` or `deadline` passes (Clock::time_point::max(): no limit).
Status Wait(int fd, short events, Clock::time_point deadline, const char* what) {
  while (true) {
    int timeout = -1;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return Status::DeadlineExceeded(std::string(what) + ": timed out");
      timeout = static_cast<int>(left);
    }
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, timeout);
    if (ready > 0) return Status::Ok();  // readable, writable, or an error the next SSL call reports
    if (ready < 0 && errno != EINTR)
      return Status::Unavailable(std::string(what) + ": " + std::strerror(errno));
  }
}

Clock::time_point DeadlineAfter(std::chrono::milliseconds timeout) {
  return timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
}

// Why a handshake failed, in words a user can act on.
Status HandshakeError(SSL* ssl, bool server, int ssl_error, const SocketState& socket) {
  long verify = SSL_get_verify_result(ssl);  // NOLINT(google-runtime-int): OpenSSL's type
  const int reason = ERR_GET_REASON(ERR_peek_error());
  std::string detail = DrainErrors(socket.eof   ? "connection closed by the peer"
                                   : errno != 0 ? std::strerror(errno)
                                                : "the peer ended the handshake");
  const char* peer = server ? "client" : "server";
  if (verify != X509_V_OK) {
    return Status::Unauthenticated(std::string("TLS: ") + peer +
                                   " certificate not accepted: " + X509_verify_cert_error_string(verify));
  }
  if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
      reason == SSL_R_HTTP_REQUEST || reason == SSL_R_RECORD_LENGTH_MISMATCH) {
    return Status::Unavailable(std::string("TLS: the ") + peer + " does not speak TLS (" + detail +
                               (server ? ")" : "); is TLS configured on the server (--tls-cert-file)?"));
  }
  if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
    return Status::Unavailable(std::string("TLS handshake: ") + detail);
  }
  return Status::Unauthenticated("TLS handshake failed: " + detail);
}

Result<std::unique_ptr<TlsChannel::Handle>> NewHandle(int fd, CtxPtr ctx) {
  auto handle = std::make_unique<TlsChannel::Handle>();
  handle->ctx = std::move(ctx);
  handle->ssl.reset(SSL_new(handle->ctx.get()));
  if (!handle->ssl) return Status::Internal(DrainErrors("SSL_new failed"));
  handle->socket.fd = fd;
  GPUPOOL_RETURN_IF_ERROR(AttachSocket(handle->ssl.get(), &handle->socket));
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return Status::Internal(std::string("O_NONBLOCK: ") + std::strerror(errno));
  }
  return handle;
}

Status RunHandshake(SSL* ssl, const SocketState& socket, bool server, std::chrono::milliseconds timeout) {
  const auto deadline = DeadlineAfter(timeout);
  while (true) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1) return Status::Ok();
    int error = SSL_get_error(ssl, rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      GPUPOOL_RETURN_IF_ERROR(
          Wait(socket.fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "TLS handshake"));
      continue;
    }
    return HandshakeError(ssl, server, error, socket);
  }
}

}  // namespace

TlsChannel::TlsChannel(int fd, std::unique_ptr<Handle> handle) : fd_(fd), handle_(std::move(handle)) {
  staging_.reserve(kMaxRecord);
}

TlsChannel::~TlsChannel() = default;

Status TlsChannel::CheckServerFiles(const TlsServerFiles& files) {
  return ServerContext(files).status();
}

Result<std::unique_ptr<TlsChannel>> TlsChannel::Accept(int fd, const TlsServerFiles& files,
                                                       std::chrono::milliseconds timeout) {
  GPUPOOL_ASSIGN_OR_RETURN(CtxPtr ctx, ServerContext(files));
  GPUPOOL_ASSIGN_OR_RETURN(std::unique_ptr<Handle> handle, NewHandle(fd, std::move(ctx)));
  SSL_set_accept_state(handle->ssl.get());
  GPUPOOL_RETURN_IF_ERROR(RunHandshake(handle->ssl.get(), handle->socket, true, timeout));
  return std::unique_ptr<TlsChannel>(new TlsChannel(fd, std::move(handle)));
}

Result<std::unique_ptr<TlsChannel>> TlsChannel::Connect(int fd, const TlsClientFiles& files,
                                                        const std::string& host,
                                                        std::chrono::milliseconds timeout) {
  GPUPOOL_ASSIGN_OR_RETURN(CtxPtr ctx, ClientContext(files));
  GPUPOOL_ASSIGN_OR_RETURN(std::unique_ptr<Handle> handle, NewHandle(fd, std::move(ctx)));
  SSL* ssl = handle->ssl.get();
  const std::string& name = files.server_name.empty() ? host : files.server_name;
  in6_addr ip{};
  const bool is_ip =
      ::inet_pton(AF_INET, name.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, name.c_str(), &ip) == 1;
  // The certificate must name what we connected to: an IP address SAN for an address, a DNS SAN for
  // a name (which also goes out as SNI).
  bool named =
      is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1
            : SSL_set1_host(ssl, name.c_str()) == 1 && SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
  if (!named) return Status::InvalidArgument("TLS: '" + name + "' is not a valid server name");
  SSL_set_connect_state(ssl);
  Status s = RunHandshake(ssl, handle->socket, false, timeout);
  if (!s.ok()) return Status(s.code(), s.message() + " (server name checked: " + name + ")");
  return std::unique_ptr<TlsChannel>(new TlsChannel(fd, std::move(handle)));
}

std::string TlsChannel::Describe() const {
  SSL* ssl = handle_->ssl.get();
  return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

Status TlsChannel::WriteAll(const char* data, std::size_t size) {
  std::unique_lock<std::mutex> lock(ssl_mu_);
  while (size > 0) {
    ERR_clear_error();
    errno = 0;
    std::size_t written = 0;
    int rc = SSL_write_ex(handle_->ssl.get(), data, size, &written);
    if (rc == 1) {  // without SSL_MODE_ENABLE_PARTIAL_WRITE that is all of it
      data += written;
      size -= written;
      continue;
    }
    int error = SSL_get_error(handle_->ssl.get(), rc);
    if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
      // Retried with the same arguments, as OpenSSL requires; the reader may run meanwhile.
      lock.unlock();
      GPUPOOL_RETURN_IF_ERROR(
          Wait(fd_, error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, Clock::time_point::max(), "send"));
      lock.lock();
      continue;
    }
    return Status::Unavailable("send: " + DrainErrors(errno != 0 ? std::strerror(errno) : "TLS error"));
  }
  return Status::Ok();
}

Status TlsChannel::Flush() {
  std::unique_lock<std::mutex> lock(ssl_mu_);
  BIO* out = SSL_get_wbio(handle_->ssl.get());
  while (BIO_flush(out) != 1) {
    if (!BIO_should_retry(out)) return Status::Unavailable(std::string("send: ") + std::strerror(errno));
    lock.unlock();
    GPUPOOL_RETURN_IF_ERROR(Wait(fd_, POLLOUT, Clock::time_point::max(), "send"));
    lock.lock();
  }
  return Status::Ok();
}

Status TlsChannel::WriteV(const iovec* parts, int count) {
  staging_.clear();
  for (int i = 0; i < count; ++i) {
    const auto* data = static_cast<const char*>(parts[i].iov_base);
    const std::size_t size = parts[i].iov_len;
    if (size >= kDirectWrite || staging_.size() + size > kMaxRecord) {
      if (!staging_.empty()) GPUPOOL_RETURN_IF_ERROR(WriteAll(staging_.data(), staging_.size()));
      staging_.clear();
    }
    if (size >= kDirectWrite) {
      GPUPOOL_RETURN_IF_ERROR(WriteAll(data, size));
    } else {
      staging_.append(data, size);
    }
  }
  if (!staging_.empty()) GPUPOOL_RETURN_IF_ERROR(WriteAll(staging_.data(), staging_.size()));
  // The records wait in the socket BIO (tls_context.h): one frame's records go out together.
  return Flush();
}

Result<std::size_t> TlsChannel::Read(void* dst, std::size_t max, std::chrono::milliseconds timeout) {
  const auto deadline = DeadlineAfter(timeout);
  std::unique_lock<std::mutex> lock(ssl_mu_);
  while (true) {
    ERR_clear_error();
    errno = 0;
    std::size_t got = 0;
    int rc = SSL_read_ex(handle_->ssl.get(), dst, max, &got);
    if (rc == 1) return got;
    int error = SSL_get_error(handle_->ssl.get(), rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      // OpenSSL has used up what it buffered: only now is waiting on the socket right.
      lock.unlock();
      GPUPOOL_RETURN_IF_ERROR(
          Wait(fd_, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "receive"));
      lock.lock();
      continue;
    }
    if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && errno == 0)) {
      ERR_clear_error();
      return Status::Unavailable("connection closed by peer");
    }
    return Status::Unavailable("receive: " + DrainErrors(errno != 0 ? std::strerror(errno) : "TLS error"));
  }
}

bool StartsTlsHandshake(const unsigned char* bytes, std::size_t size) {
  // A TLS record header: content type 22 (handshake), version 3.1 to 3.4. A gpupool Hello header
  // starts with its payload size, whose third byte is 0 (a Hello is far below 64 KiB).
  if (size < 1 || bytes[0] != 0x16) return false;
  if (size >= 2 && bytes[1] != 0x03) return false;
  return size < 3 || (bytes[2] >= 1 && bytes[2] <= 4);
}

}  // namespace gpupool::protocol
