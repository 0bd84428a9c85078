// Listening and connecting: address resolution and socket options for TCP and Unix sockets.
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>

#include "remoting/protocol/transport.h"

namespace gpupool::protocol {
namespace {

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Latency matters more than packet count (every sync call is a round trip), and keep-alive finds a
// peer that vanished without closing (a pulled cable, a killed VM) within about a minute.
void TuneTcp(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  int idle = 30, interval = 10, count = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

// A Unix socket address and its length. A path starting with '@' names an abstract socket (Linux): no
// file, gone with its last descriptor, reachable only in the same network namespace.
struct UnixSocketAddress {
  sockaddr_un addr{};
  socklen_t length = 0;
  bool abstract() const { return addr.sun_path[0] == '\0'; }
};

Result<UnixSocketAddress> UnixAddress(const std::string& path) {
  UnixSocketAddress a;
  a.addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.addr.sun_path) {
    return Status::InvalidArgument("unix socket path '" + path + "' is empty or too long");
  }
  std::memcpy(a.addr.sun_path, path.c_str(), path.size() + 1);
  a.length = sizeof a.addr;
  if (path[0] == '@') {
    a.addr.sun_path[0] = '\0';  // the name is the bytes after it, exactly: no terminator
    a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  }
  return a;
}

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { ::freeaddrinfo(ai); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

Result<AddrInfoPtr> Resolve(const Endpoint& endpoint, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* result = nullptr;
  std::string port = std::to_string(endpoint.port);
  int rc =
      ::getaddrinfo(endpoint.host.empty() ? nullptr : endpoint.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) return Status::Unavailable("resolving " + endpoint.ToString() + ": " + ::gai_strerror(rc));
  return AddrInfoPtr(result);
}

// Connects `fd` to `addr` within `timeout`.
Status ConnectWithin(int fd, const sockaddr* addr, socklen_t len, std::chrono::milliseconds timeout) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd, addr, len) != 0) {
    if (errno != EINPROGRESS) return Status::Unavailable(Errno("connect"));
    pollfd p{fd, POLLOUT, 0};
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready == 0) return Status::DeadlineExceeded("connect: timed out");
    int err = 0;
    socklen_t err_len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (ready < 0 || err != 0) return Status::Unavailable(std::string("connect: ") + std::strerror(err));
  }
  ::fcntl(fd, F_SETFL, flags);
  return Status::Ok();
}

}  // namespace

Result<Connection> Connect(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    GPUPOOL_ASSIGN_OR_RETURN(UnixSocketAddress a, UnixAddress(endpoint.path));
    Connection conn(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!conn.valid()) return Status::Internal(Errno("socket"));
    Status s = ConnectWithin(conn.fd(), reinterpret_cast<sockaddr*>(&a.addr), a.length, timeout);
    if (!s.ok()) return s.Annotate(endpoint.ToString());
    return conn;
  }
  GPUPOOL_ASSIGN_OR_RETURN(AddrInfoPtr list, Resolve(endpoint, false));
  Status last = Status::Unavailable("no address");
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    Connection conn(::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!conn.valid()) continue;
    last = ConnectWithin(conn.fd(), ai->ai_addr, ai->ai_addrlen, timeout);
    if (last.ok()) {
      TuneTcp(conn.fd());
      return conn;
    }
  }
  return last.Annotate("connecting to " + endpoint.ToString());
}

Result<Listener> Listener::Listen(const Endpoint& endpoint, std::optional<mode_t> unix_mode) {
  Listener l;
  l.endpoint_ = endpoint;
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    GPUPOOL_ASSIGN_OR_RETURN(UnixSocketAddress a, UnixAddress(endpoint.path));
    struct stat st {};
    if (!a.abstract() && ::lstat(endpoint.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
      ::unlink(endpoint.path.c_str());
    l.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l.fd_ < 0) return Status::Internal(Errno("socket"));
    if (::bind(l.fd_, reinterpret_cast<sockaddr*>(&a.addr), a.length) != 0) {
      return Status::Unavailable(Errno("listening on " + endpoint.ToString()));
    }
    // Bound but not listening, a socket refuses every connection: the mode is in place first. An
    // abstract socket has no file to hold a mode.
    if (unix_mode && !a.abstract() && ::chmod(endpoint.path.c_str(), *unix_mode) != 0) {
      return Status::Internal(Errno("chmod " + endpoint.path));
    }
    if (::listen(l.fd_, 128) != 0) return Status::Unavailable(Errno("listening on " + endpoint.ToString()));
    return l;
  }
  GPUPOOL_ASSIGN_OR_RETURN(AddrInfoPtr list, Resolve(endpoint, true));
  addrinfo* ai = list.get();
  l.fd_ = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l.fd_ < 0) return Status::Internal(Errno("socket"));
  int one = 1;
  ::setsockopt(l.fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(l.fd_, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(l.fd_, 128) != 0) {
    return Status::Unavailable(Errno("listening on " + endpoint.ToString()));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(l.fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  l.endpoint_.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                       : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return l;
}

Listener::Listener(Listener&& other) noexcept : fd_(other.fd_), endpoint_(std::move(other.endpoint_)) {
  other.fd_ = -1;
}

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    endpoint_ = std::move(other.endpoint_);
    other.fd_ = -1;
  }
  return *this;
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Connection> Listener::Accept() {
  while (true) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      if (endpoint_.kind == Endpoint::Kind::kTcp) TuneTcp(fd);
      return Connection(fd);
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    return Status::Unavailable(Errno("accept"));
  }
}

}  // namespace gpupool::protocol
