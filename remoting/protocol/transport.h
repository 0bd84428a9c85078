// Blocking socket transport for frames: TCP (TCP_NODELAY, keep-alive) and Unix stream sockets.
//
// Sending gathers the header and every part into one sendmsg (no copy of bulk data into a frame
// buffer); receiving reads the header, then lets the caller put the payload where it belongs
// (ReadExact straight into a destination buffer), or reads it whole (ReadPayload).
//
//   auto conn = Connect(endpoint, 5s);           // client
//   auto listener = Listener::Listen(endpoint);  // server: listener->Accept()
//
// After StartTls* every read and write goes through TLS (tls.h); frames are the same.
//
// Errors: Unavailable when the peer closes or the socket fails, DeadlineExceeded when a receive
// timeout set with SetReceiveTimeout passes, InvalidArgument for a malformed header.
// Thread-safety: one sender and one receiver thread may use a Connection at the same time; two
// senders (or two receivers) must not.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/endpoint.h"
#include "common/status.h"
#include "remoting/protocol/frame.h"
#include "remoting/protocol/tls.h"

namespace gpupool::protocol {

class Connection {
 public:
  Connection() = default;
  explicit Connection(int fd) : fd_(fd) {}
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Gives up ownership of the descriptor (e.g. to hand it to a worker process); a TLS session is
  // dropped without a word to the peer.
  int Release();

  // Runs the TLS handshake within `timeout`; from then on the connection is encrypted.
  Status StartTlsClient(const TlsClientFiles& files, const std::string& host,
                        std::chrono::milliseconds timeout);
  Status StartTlsServer(const TlsServerFiles& files, std::chrono::milliseconds timeout);
  // Null unless TLS was started.
  const TlsChannel* tls() const { return tls_.get(); }

  // One frame: header (payload_size computed from the parts) + parts, in a single gather write.
  Status SendFrame(std::uint16_t opcode, std::uint16_t flags, std::uint64_t request_id,
                   std::initializer_list<std::string_view> parts);
  Status SendFrameV(std::uint16_t opcode, std::uint16_t flags, std::uint64_t request_id, const iovec* parts,
                    int count);
  // One frame with descriptor `fd` attached (SCM_RIGHTS); plain Unix sockets only (not under TLS).
  Status SendFrameWithFd(std::uint16_t opcode, std::uint16_t flags, std::uint64_t request_id,
                         std::string_view payload, int fd);
  // Writes every byte of `parts` (already framed), in one gather write where the socket allows.
  Status WriteV(const iovec* parts, int count);
  // Reads and checks the next header (payload size within kMaxPayload, known flags).
  Result<FrameHeader> ReadHeader();
  // As ReadHeader, also taking a descriptor sent with the frame (SendFrameWithFd): *fd is it
  // (close-on-exec, now the caller's), or -1 when none came.
  Result<FrameHeader> ReadHeaderWithFd(int* fd);
  // Reads exactly `size` bytes into `dst` (a payload, or part of one).
  Status ReadExact(void* dst, std::size_t size);
  // Reads what is available, at least 1 and at most `max` bytes (blocks until something arrives).
  Result<std::size_t> ReadSome(void* dst, std::size_t max);
  // Reads `size` payload bytes into `payload` (resized).
  Status ReadPayload(std::size_t size, std::string* payload);
  // Discards `size` bytes.
  Status Skip(std::size_t size);
  // ReadSome polls a plain socket for up to `spin` before it blocks (zero: it blocks at once). A reply
  // that comes within it is read without the sleep and wake-up a blocking read costs. May be called
  // while another thread reads.
  void SetReadSpin(std::chrono::nanoseconds spin) {
    read_spin_ns_.store(spin.count(), std::memory_order_relaxed);
  }
  // Receive timeout for every later read; zero means none.
  Status SetReceiveTimeout(std::chrono::milliseconds timeout);
  // Wakes a thread blocked reading this connection (it gets Unavailable).
  void Shutdown();
  // True once a read found the peer's orderly close (EOF), as opposed to a broken connection.
  bool peer_closed() const { return peer_closed_; }

 private:
  int fd_ = -1;
  bool peer_closed_ = false;
  std::unique_ptr<TlsChannel> tls_;
  std::chrono::milliseconds receive_timeout_{0};  // for TLS reads (plain ones use SO_RCVTIMEO)
  std::atomic<std::int64_t> read_spin_ns_{0};
};

class Listener {
 public:
  // Binds and listens. TCP port 0 picks a free port (see endpoint()). A Unix path that exists as a
  // stale socket is replaced; with `unix_mode` the socket gets those permission bits before it
  // listens, so no one the mode excludes can connect in between (an abstract "@name" has no file,
  // hence no mode).
  static Result<Listener> Listen(const Endpoint& endpoint, std::optional<mode_t> unix_mode = std::nullopt);
  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // The bound address, with the real port.
  const Endpoint& endpoint() const { return endpoint_; }
  int fd() const { return fd_; }
  // Blocks for the next connection; sets TCP_NODELAY and keep-alive on it.
  Result<Connection> Accept();

 private:
  Listener() = default;
  int fd_ = -1;
  Endpoint endpoint_;
};

// Connects within `timeout`; TCP gets TCP_NODELAY and keep-alive.
Result<Connection> Connect(const Endpoint& endpoint, std::chrono::milliseconds timeout);

}  // namespace gpupool::protocol
