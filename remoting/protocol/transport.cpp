// Connection I/O: frames over a connected stream socket.
#include "remoting/protocol/transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {
namespace {

// Room for a gather list: on the stack for the usual few parts (every frame goes through here).
class IovecList {
 public:
  explicit IovecList(int count) {
    if (count > kInline) heap_.resize(static_cast<std::size_t>(count));
  }
  iovec* data() { return heap_.empty() ? inline_ : heap_.data(); }

 private:
  static constexpr int kInline = 16;
  iovec inline_[kInline];
  std::vector<iovec> heap_;
};

Status IoError(const char* what, int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) return Status::DeadlineExceeded(std::string(what) + ": timed out");
  return Status::Unavailable(std::string(what) + ": " + std::strerror(err));
}

}  // namespace

Connection::Connection(Connection&& other) noexcept
    : tls_(std::move(other.tls_)),
      receive_timeout_(other.receive_timeout_),
      read_spin_ns_(other.read_spin_ns_.load(std::memory_order_relaxed)) {
  fd_ = other.Release();
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    tls_.reset();
    if (fd_ >= 0) ::close(fd_);
    tls_ = std::move(other.tls_);
    receive_timeout_ = other.receive_timeout_;
    read_spin_ns_.store(other.read_spin_ns_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    fd_ = other.Release();
  }
  return *this;
}

Connection::~Connection() {
  tls_.reset();  // before the socket it reads goes
  if (fd_ >= 0) ::close(fd_);
}

int Connection::Release() {
  tls_.reset();
  int fd = fd_;
  fd_ = -1;
  return fd;
}

Status Connection::StartTlsClient(const TlsClientFiles& files, const std::string& host,
                                  std::chrono::milliseconds timeout) {
  GPUPOOL_ASSIGN_OR_RETURN(tls_, TlsChannel::Connect(fd_, files, host, timeout));
  return Status::Ok();
}

Status Connection::StartTlsServer(const TlsServerFiles& files, std::chrono::milliseconds timeout) {
  GPUPOOL_ASSIGN_OR_RETURN(tls_, TlsChannel::Accept(fd_, files, timeout));
  return Status::Ok();
}

Status Connection::SendFrame(std::uint16_t opcode, std::uint16_t flags, std::uint64_t request_id,
                             std::initializer_list<std::string_view> parts) {
  iovec iov[8];
  if (parts.size() > std::size(iov)) return Status::Internal("SendFrame: too many parts");
  int n = 0;
  for (std::string_view part : parts) {
    iov[n++] = iovec{const_cast<char*>(part.data()), part.size()};
  }
  return SendFrameV(opcode, flags, request_id, iov, n);
}

Status Connection::SendFrameV(std::uint16_t opcode, std::uint16_t flags, std::uint64_t request_id,
                              const iovec* parts, int count) {
  std::size_t payload = 0;
  for (int i = 0; i < count; ++i) payload += parts[i].iov_len;
  if (payload > kMaxPayload) {
    return Status::InvalidArgument("frame payload of " + std::to_string(payload) +
                                   " bytes exceeds the limit");
  }
  unsigned char header[kHeaderSize];
  EncodeHeader({static_cast<std::uint32_t>(payload), opcode, flags, request_id}, header);
  IovecList iov(count + 1);
  iov.data()[0] = {header, kHeaderSize};
  std::copy(parts, parts + count, iov.data() + 1);
  return WriteV(iov.data(), count + 1);
}

Status Connection::WriteV(const iovec* parts, int count) {
  if (tls_) return tls_->WriteV(parts, count);
  IovecList list(count);
  iovec* iov = list.data();
  std::size_t n = 0;
  for (int i = 0; i < count; ++i) {
    if (parts[i].iov_len > 0) iov[n++] = parts[i];
  }
  std::size_t first = 0;
  while (first < n) {
    msghdr msg{};
    msg.msg_iov = &iov[first];
    msg.msg_iovlen = n - first;
    ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return IoError("send", errno);
    }
    auto left = static_cast<std::size_t>(sent);
    while (first < n && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < n) {  // partial write: resume inside this part
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::Ok();
}

Status Connection::SendFrameWithFd(std::uint16_t opcode, std::uint16_t flags, std::uint64_t request_id,
                                   std::string_view payload, int fd) {
  if (tls_) return Status::FailedPrecondition("descriptors cannot travel under TLS");
  if (payload.size() > kMaxPayload) return Status::InvalidArgument("frame payload exceeds the limit");
  unsigned char header[kHeaderSize];
  EncodeHeader({static_cast<std::uint32_t>(payload.size()), opcode, flags, request_id}, header);
  iovec iov[2] = {{header, kHeaderSize}, {const_cast<char*>(payload.data()), payload.size()}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = payload.empty() ? 1 : 2;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  ssize_t sent;
  do {
    sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return IoError("send", errno);
  // The descriptor went with the first byte; the rest is an ordinary write.
  const auto done = static_cast<std::size_t>(sent);
  if (done < kHeaderSize) {
    iovec rest[2] = {{header + done, kHeaderSize - done}, iov[1]};
    return WriteV(rest, 2);
  }
  iovec rest{const_cast<char*>(payload.data()) + (done - kHeaderSize), payload.size() - (done - kHeaderSize)};
  return WriteV(&rest, 1);
}

Result<FrameHeader> Connection::ReadHeaderWithFd(int* fd) {
  *fd = -1;
  if (tls_) return Status::FailedPrecondition("descriptors cannot travel under TLS");
  unsigned char header[kHeaderSize];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{header, kHeaderSize};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got;
  do {
    got = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got == 0) {
    peer_closed_ = true;
    return Status::Unavailable("connection closed by peer");
  }
  if (got < 0) return IoError("receive", errno);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      std::memcpy(fd, CMSG_DATA(c), sizeof(int));
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
    return Status::InvalidArgument("more descriptors than one came with a frame");
  }
  const auto done = static_cast<std::size_t>(got);
  if (done < kHeaderSize) {
    Status rest = ReadExact(header + done, kHeaderSize - done);
    if (!rest.ok()) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
      return rest;
    }
  }
  auto decoded = DecodeHeader(header);
  if (!decoded.ok() && *fd >= 0) {
    ::close(*fd);
    *fd = -1;
  }
  return decoded;
}

Status Connection::ReadExact(void* dst, std::size_t size) {
  auto* out = static_cast<char*>(dst);
  while (size > 0 && tls_) {
    GPUPOOL_ASSIGN_OR_RETURN(std::size_t got, tls_->Read(out, size, receive_timeout_));
    out += got;
    size -= got;
  }
  while (size > 0) {
    ssize_t got = ::recv(fd_, out, size, 0);
    if (got == 0) {
      peer_closed_ = true;
      return Status::Unavailable("connection closed by peer");
    }
    if (got < 0) {
      if (errno == EINTR) continue;
      return IoError("receive", errno);
    }
    out += got;
    size -= static_cast<std::size_t>(got);
  }
  return Status::Ok();
}

Result<std::size_t> Connection::ReadSome(void* dst, std::size_t max) {
  if (tls_) return tls_->Read(dst, max, receive_timeout_);
  if (const std::int64_t spin = read_spin_ns_.load(std::memory_order_relaxed); spin > 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin);
    do {
      const ssize_t got = ::recv(fd_, dst, max, MSG_DONTWAIT);
      if (got > 0) return static_cast<std::size_t>(got);
      if (got == 0) {
        peer_closed_ = true;
        return Status::Unavailable("connection closed by peer");
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return IoError("receive", errno);
    } while (std::chrono::steady_clock::now() < deadline);
  }
  while (true) {
    ssize_t got = ::recv(fd_, dst, max, 0);
    if (got == 0) {
      peer_closed_ = true;
      return Status::Unavailable("connection closed by peer");
    }
    if (got > 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) return IoError("receive", errno);
  }
}

Result<FrameHeader> Connection::ReadHeader() {
  unsigned char header[kHeaderSize];
  GPUPOOL_RETURN_IF_ERROR(ReadExact(header, kHeaderSize));
  return DecodeHeader(header);
}

Status Connection::ReadPayload(std::size_t size, std::string* payload) {
  payload->resize(size);
  return ReadExact(payload->data(), size);
}

Status Connection::Skip(std::size_t size) {
  char buf[16384];
  while (size > 0) {
    std::size_t n = size < sizeof buf ? size : sizeof buf;
    GPUPOOL_RETURN_IF_ERROR(ReadExact(buf, n));
    size -= n;
  }
  return Status::Ok();
}

Status Connection::SetReceiveTimeout(std::chrono::milliseconds timeout) {
  receive_timeout_ = timeout;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
    return Status::Internal(std::string("SO_RCVTIMEO: ") + std::strerror(errno));
  }
  return Status::Ok();
}

void Connection::Shutdown() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace gpupool::protocol
