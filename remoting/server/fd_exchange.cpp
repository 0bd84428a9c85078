// FdExchange: an abstract SOCK_SEQPACKET socket per exporting worker; one request (a token) and one
// answer (a byte, with the descriptor attached when it is 'y') per connection.
#include "remoting/server/fd_exchange.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace gpupool::server {
namespace {

constexpr char kYes = 'y', kNo = 'n';

// The abstract address of session `session`'s exchange under this process's broker.
socklen_t Address(std::uint64_t session, sockaddr_un* address) {
  std::memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  const std::string name =
      "gpupool-fds-" + std::to_string(static_cast<long>(getppid())) + "-" + std::to_string(session);
  std::memcpy(address->sun_path + 1, name.data(), name.size());  // sun_path[0] == 0: abstract
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

void SetTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::pair<std::uint64_t, std::uint64_t> Key(const IpcToken& token) {
  return {token.high, token.low};
}

}  // namespace

FdExchange::~FdExchange() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  for (const auto& [token, fd] : offered_) close(fd);
}

Status FdExchange::Offer(const IpcToken& token, int fd) {
  if (Status listening = Listen(); !listening.ok()) {
    close(fd);
    return listening;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = offered_.emplace(Key(token), fd);
  if (!added) {
    close(it->second);
    it->second = fd;
  }
  return Status::Ok();
}

void FdExchange::Withdraw(const IpcToken& token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = offered_.find(Key(token));
  if (it == offered_.end()) return;
  close(it->second);
  offered_.erase(it);
}

int FdExchange::Dup(const IpcToken& token) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = offered_.find(Key(token));
  return it != offered_.end() ? fcntl(it->second, F_DUPFD_CLOEXEC, 0) : -1;
}

Status FdExchange::Listen() {
  if (thread_.joinable()) return Status::Ok();
  listen_fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  sockaddr_un address;
  const socklen_t length = Address(session_, &address);
  if (listen_fd_ < 0 || stop_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(listen_fd_, 16) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) close(listen_fd_);
    if (stop_fd_ >= 0) close(stop_fd_);
    listen_fd_ = stop_fd_ = -1;
    return Status::Unavailable("cannot offer exported memory to other sessions: " + why);
  }
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void FdExchange::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int connection = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    Answer(connection);
    close(connection);
  }
}

void FdExchange::Answer(int connection) {
  // A peer that does not send its token at once must not hold the exchange.
  SetTimeout(connection, std::chrono::milliseconds(1000));
  ucred peer{};
  socklen_t peer_length = sizeof peer;
  if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) != 0 || peer.uid != geteuid())
    return;
  IpcToken token;
  std::uint64_t words[2];
  if (recv(connection, words, sizeof words, 0) != static_cast<ssize_t>(sizeof words)) return;
  token = {words[0], words[1]};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = offered_.find(Key(token));
  char answer = it != offered_.end() ? kYes : kNo;
  iovec data{&answer, 1};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (answer == kYes) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &it->second, sizeof(int));
  }
  (void)sendmsg(connection, &message, MSG_NOSIGNAL);
}

Result<int> FdExchange::Fetch(std::uint64_t session, const IpcToken& token,
                              std::chrono::milliseconds timeout) {
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  SetTimeout(fd, timeout);
  sockaddr_un address;
  const socklen_t length = Address(session, &address);
  const std::uint64_t words[2] = {token.high, token.low};
  char answer = 0;
  iovec data{&answer, 1};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      send(fd, words, sizeof words, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof words) ||
      recvmsg(fd, &message, MSG_CMSG_CLOEXEC) != 1) {
    const std::string why = std::strerror(errno);
    close(fd);
    return Status::Unavailable("session " + std::to_string(session) +
                               " does not hand over its export: " + why);
  }
  close(fd);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (answer != kYes || header == nullptr || header->cmsg_type != SCM_RIGHTS ||
      header->cmsg_len != CMSG_LEN(sizeof(int))) {
    return Status::NotFound("session " + std::to_string(session) + " offers no such export");
  }
  int received = -1;
  std::memcpy(&received, CMSG_DATA(header), sizeof(int));
  return received;
}

}  // namespace gpupool::server
