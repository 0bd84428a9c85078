// Connection I/O: frames over a connected stream socket.
#include "remoting/protocol/transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {
namespace {

Status IoError(const char* what, int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) return Status::DeadlineExceeded(std::string(what) + ": timed out");
  return Status::Unavailable(std::string(what) + ": " + std::strerror(err));
}

}  // namespace

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

int Connection::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
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
  std::vector<iovec> iov;
  iov.reserve(static_cast<std::size_t>(count) + 1);
  iov.push_back({header, kHeaderSize});
  for (int i = 0; i < count; ++i) {
    if (parts[i].iov_len > 0) iov.push_back(parts[i]);
  }
  std::size_t first = 0;
  while (first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = &iov[first];
    msg.msg_iovlen = iov.size() - first;
    ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return IoError("send", errno);
    }
    auto left = static_cast<std::size_t>(sent);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < iov.size()) {  // partial write: resume inside this part
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::Ok();
}

Status Connection::ReadExact(void* dst, std::size_t size) {
  auto* out = static_cast<char*>(dst);
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
