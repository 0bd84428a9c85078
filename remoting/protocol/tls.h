// TLS (OpenSSL) for remoting connections over TCP: TLS 1.2 or newer; the client checks the server's
// certificate against a CA file and the name it connected to (or a configured name); the server
// may require a client certificate (mutual TLS). Certificate files are read on every handshake, so
// replacing them on disk takes effect for the next connection without a restart.
//
// A TlsChannel is full duplex: one thread may read while another writes (the client's senders and
// its reply reader). OpenSSL forbids concurrent calls on one SSL object, so every SSL call is made
// under one mutex on a non-blocking socket, and waiting for the socket (poll) happens outside it.
// Large writes go from the caller's buffer straight into SSL_write (OpenSSL encrypts into its own
// record buffer; no copy of ours); small parts of a gather write are coalesced into one record.
//
// Thread-safety: one reader and one writer at a time (as Connection). The socket is not owned.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace gpupool::protocol {

struct TlsServerFiles {
  std::string cert_file;       // PEM: the server certificate, then any intermediates
  std::string key_file;        // PEM: its private key
  std::string client_ca_file;  // PEM; non-empty: clients must present a certificate signed by it
};

struct TlsClientFiles {
  std::string ca_file;      // PEM: the server's certificate must chain to one of these
  std::string server_name;  // checked against the certificate; empty: the host connected to
  std::string cert_file;    // optional client certificate (mutual TLS) ...
  std::string key_file;     // ... and its key
};

class TlsChannel {
 public:
  // Loads the files as a handshake would (a server checks its flags at start-up).
  static Status CheckServerFiles(const TlsServerFiles& files);
  // Runs the server / client handshake on the connected socket `fd` within `timeout`. The socket is
  // made non-blocking and must outlive the channel.
  static Result<std::unique_ptr<TlsChannel>> Accept(int fd, const TlsServerFiles& files,
                                                    std::chrono::milliseconds timeout);
  static Result<std::unique_ptr<TlsChannel>> Connect(int fd, const TlsClientFiles& files,
                                                     const std::string& host,
                                                     std::chrono::milliseconds timeout);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  // Writes every byte of `parts`.
  Status WriteV(const iovec* parts, int count);
  // Reads at least 1 and at most `max` bytes; `timeout` zero waits without limit.
  Result<std::size_t> Read(void* dst, std::size_t max, std::chrono::milliseconds timeout);
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs.
  std::string Describe() const;

  struct Handle;  // OpenSSL objects (tls.cpp)

 private:
  explicit TlsChannel(int fd, std::unique_ptr<Handle> handle);
  // Encrypts all of `data` into records (sent when the BIO's buffer fills) ...
  Status WriteAll(const char* data, std::size_t size);
  // ... and sends what is buffered.
  Status Flush();

  int fd_;
  std::unique_ptr<Handle> handle_;
  std::mutex ssl_mu_;    // held for every SSL call, never while waiting on the socket
  std::string staging_;  // writer only: small parts of one gather write, sent as one record
};

// False when `bytes` (the first 1 to 3 bytes a client sent) cannot start a TLS handshake record, so
// a TLS server can answer a plaintext gpupool client in plaintext ("this server requires TLS").
bool StartsTlsHandshake(const unsigned char* bytes, std::size_t size);

}  // namespace gpupool::protocol
