// FdExchange: an abstract Unix socket per exporting worker (protocol::Listener, "@name"); one request
// frame (a token) and one answer frame (the descriptor attached, or a refusal) per connection.
#include "remoting/server/fd_exchange.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "remoting/protocol/transport.h"

namespace gpupool::server {
namespace {

// The exchange's two frames (protocol/frame.h headers; the opcodes are this channel's own): a request
// carries the token, the answer the descriptor, or is a refusal.
constexpr std::uint16_t kOpFetch = 1, kOpRefused = 2;

// The abstract socket of session `session`'s exchange under this process's broker.
Endpoint Address(std::uint64_t session) {
  Endpoint endpoint;
  endpoint.kind = Endpoint::Kind::kUnix;
  endpoint.path =
      "@gpupool-fds-" + std::to_string(static_cast<long>(getppid())) + "-" + std::to_string(session);
  return endpoint;
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
  auto listening = protocol::Listener::Listen(Address(session_));
  if (!listening.ok()) return listening.status().Annotate("cannot offer exported memory to other sessions");
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) return Status::Unavailable(std::string("eventfd: ") + std::strerror(errno));
  listener_.emplace(std::move(*listening));
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void FdExchange::Serve() {
  while (true) {
    pollfd fds[2] = {{listener_->fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    auto connection = listener_->Accept();
    if (connection.ok()) Answer(*connection);
  }
}

void FdExchange::Answer(protocol::Connection& connection) {
  // A peer that does not send its token at once must not hold the exchange.
  if (!connection.SetReceiveTimeout(std::chrono::milliseconds(1000)).ok()) return;
  ucred peer{};
  socklen_t peer_length = sizeof peer;
  if (getsockopt(connection.fd(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) != 0 || peer.uid != geteuid())
    return;
  auto header = connection.ReadHeader();
  std::string payload;
  std::uint64_t words[2];
  if (!header.ok() || header->opcode != kOpFetch || header->payload_size != sizeof words ||
      !connection.ReadPayload(sizeof words, &payload).ok())
    return;
  std::memcpy(words, payload.data(), sizeof words);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = offered_.find({words[0], words[1]});
  if (it != offered_.end()) {
    (void)connection.SendFrameWithFd(kOpFetch, protocol::kFlagReply, header->request_id, "", it->second);
  } else {
    (void)connection.SendFrame(kOpRefused, protocol::kFlagReply, header->request_id, {});
  }
}

Result<int> FdExchange::Fetch(std::uint64_t session, const IpcToken& token,
                              std::chrono::milliseconds timeout) {
  const std::string who = "session " + std::to_string(session);
  auto connected = protocol::Connect(Address(session), timeout);
  if (!connected.ok()) return connected.status().Annotate(who + " offers nothing");
  protocol::Connection& connection = *connected;
  GPUPOOL_RETURN_IF_ERROR(connection.SetReceiveTimeout(timeout));
  const std::uint64_t words[2] = {token.high, token.low};
  GPUPOOL_RETURN_IF_ERROR(connection.SendFrame(
      kOpFetch, 0, 1, {std::string_view(reinterpret_cast<const char*>(words), sizeof words)}));
  int fd = -1;
  auto header = connection.ReadHeaderWithFd(&fd);
  if (!header.ok()) return header.status().Annotate(who);
  if (header->opcode != kOpFetch || fd < 0) {
    if (fd >= 0) close(fd);
    return Status::NotFound(who + " offers no such export");
  }
  return fd;
}

}  // namespace gpupool::server
