#include "bench/raw_baseline.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>

namespace gpupool::bench {
namespace {

using Clock = std::chrono::steady_clock;

bool WriteAll(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// Commands from the bench to its peer: u8 kind, u64 count, u64 bytes, u64 span. Message i goes
// through offset (i * bytes) % span of a span-sized buffer (span == bytes: one buffer, reused).
enum Kind : std::uint8_t { kEcho = 1, kSink = 2, kSource = 3 };
struct Command {
  std::uint8_t kind;
  std::uint64_t count, bytes, span;
};

void Send(int fd, Kind kind, std::uint64_t count, std::uint64_t bytes, std::uint64_t span = 0) {
  Command c{kind, count, bytes, std::max(span, bytes)};
  WriteAll(fd, &c, sizeof c);
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace

Result<std::unique_ptr<RawPeer>> RawPeer::Start(const std::string& dir, bool tcp, bool separate_process) {
  std::unique_ptr<RawPeer> peer(new RawPeer());
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (tcp) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *in;
  } else {
    auto* un = reinterpret_cast<sockaddr_un*>(&addr);
    un->sun_family = AF_UNIX;
    std::snprintf(un->sun_path, sizeof un->sun_path, "%s/raw.sock", dir.c_str());
    len = sizeof *un;
  }
  peer->listen_fd_ = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (peer->listen_fd_ < 0 || bind(peer->listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(peer->listen_fd_, 1) != 0 ||
      getsockname(peer->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Status::Unavailable(std::string("raw baseline socket: ") + std::strerror(errno));
  }
  if (separate_process) {
    peer->child_ = fork();
    if (peer->child_ == 0) {
      peer->Serve();
      _exit(0);
    }
    close(peer->listen_fd_);
    peer->listen_fd_ = -1;
  } else {
    peer->peer_ = std::thread([p = peer.get()] { p->Serve(); });
  }
  peer->fd_ = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(peer->fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return Status::Unavailable(std::string("raw baseline connect: ") + std::strerror(errno));
  }
  int one = 1;
  if (tcp) setsockopt(peer->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return peer;
}

RawPeer::~RawPeer() {
  if (fd_ >= 0) close(fd_);  // the peer reads EOF and returns
  if (peer_.joinable()) peer_.join();
  if (child_ > 0) waitpid(child_, nullptr, 0);
  if (listen_fd_ >= 0) close(listen_fd_);
}

void RawPeer::Serve() {
  const int fd = accept(listen_fd_, nullptr, nullptr);
  if (fd < 0) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<char> buf;
  Command c{};
  while (ReadAll(fd, &c, sizeof c)) {
    if (c.span < c.bytes) break;
    buf.resize(std::max<std::uint64_t>(c.span, 1));
    for (std::uint64_t i = 0; i < c.count; ++i) {
      char* at = buf.data() + (c.bytes == 0 ? 0 : i * c.bytes % c.span);
      if (c.kind == kEcho && !(ReadAll(fd, at, c.bytes) && WriteAll(fd, at, c.bytes))) break;
      if (c.kind == kSink && !ReadAll(fd, at, c.bytes)) break;
      if (c.kind == kSource && !WriteAll(fd, at, c.bytes)) break;
    }
    if (c.kind == kSink) WriteAll(fd, &c, 1);  // done: the sender times until here
  }
  close(fd);
}

std::vector<double> RawPeer::PingPong(int count, std::size_t bytes) {
  std::vector<char> buf(bytes);
  std::vector<double> us;
  Send(fd_, kEcho, static_cast<std::uint64_t>(count), bytes);
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    WriteAll(fd_, buf.data(), bytes);
    ReadAll(fd_, buf.data(), bytes);
    us.push_back(Seconds(start) * 1e6);
  }
  return us;
}

double RawPeer::MessageRate(int count, std::size_t bytes) {
  std::vector<char> buf(bytes);
  const auto start = Clock::now();
  Send(fd_, kSink, static_cast<std::uint64_t>(count), bytes);
  for (int i = 0; i < count; ++i) WriteAll(fd_, buf.data(), bytes);
  char done;
  ReadAll(fd_, &done, 1);
  return count / Seconds(start);
}

double RawPeer::Stream(bool upload, std::size_t total, std::size_t chunk, std::size_t span) {
  chunk = std::min(chunk, total);
  span = std::max(std::min(span, total), chunk);
  const std::size_t count = total / chunk;
  // Written once when grown, so its pages are present before any clock starts.
  if (buf_.size() < span) buf_.assign(span, 1);
  char* buf = buf_.data();
  const auto start = Clock::now();
  Send(fd_, upload ? kSink : kSource, count, chunk, span);
  for (std::size_t i = 0; i < count; ++i) {
    char* at = buf + i * chunk % span;
    if (upload) {
      WriteAll(fd_, at, chunk);
    } else {
      ReadAll(fd_, at, chunk);
    }
  }
  if (upload) {
    char done;
    ReadAll(fd_, &done, 1);
  }
  return static_cast<double>(count * chunk) / Seconds(start) / 1e9;
}

double RawPeer::Upload(std::size_t total, std::size_t chunk) {
  return Stream(true, total, chunk, chunk);
}

double RawPeer::Download(std::size_t total, std::size_t chunk) {
  return Stream(false, total, chunk, chunk);
}

double RawPeer::UploadSized(std::size_t total, std::size_t chunk, std::size_t span) {
  Stream(true, span, chunk, span);  // untimed: the peer's buffer grows (and is touched) here
  return Stream(true, total, chunk, span);
}

double RawPeer::DownloadSized(std::size_t total, std::size_t chunk, std::size_t span) {
  Stream(false, span, chunk, span);
  return Stream(false, total, chunk, span);
}

}  // namespace gpupool::bench
