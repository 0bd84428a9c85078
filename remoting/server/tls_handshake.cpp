#include "remoting/server/tls_handshake.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "remoting/protocol/handshake.h"
#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::server {
namespace {

using Clock = std::chrono::steady_clock;
// The broker answers as soon as it has checked the Hello; this only bounds a broker that hangs.
constexpr std::chrono::milliseconds kBrokerAnswerTimeout{10000};
constexpr std::size_t kMaxAnswerBytes = protocol::kHeaderSize + 64 * 1024;

std::chrono::milliseconds Left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

Status WaitReadable(int fd, std::chrono::milliseconds timeout, const char* what) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(Left(deadline).count()));
    if (ready > 0) return Status::Ok();
    if (ready == 0 || Clock::now() >= deadline)
      return Status::DeadlineExceeded(std::string(what) + ": timed out");
    if (errno != EINTR) return Status::Unavailable(std::string(what) + ": " + std::strerror(errno));
  }
}

std::string Frame(std::uint16_t opcode, std::string_view payload) {
  std::string frame(protocol::kHeaderSize, '\0');
  protocol::EncodeHeader({static_cast<std::uint32_t>(payload.size()), opcode, protocol::kFlagReply, 0},
                         reinterpret_cast<unsigned char*>(frame.data()));
  frame.append(payload);
  return frame;
}

Status SendMessage(int fd, std::string_view bytes) {
  ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (sent != static_cast<ssize_t>(bytes.size())) {
    return Status::Unavailable(std::string("handshake channel: ") +
                               (sent < 0 ? std::strerror(errno) : "short send"));
  }
  return Status::Ok();
}

// One message of at most `max` bytes from the SOCK_SEQPACKET channel.
Result<std::string> ReceiveMessage(int fd, std::size_t max, std::chrono::milliseconds timeout) {
  GPUPOOL_RETURN_IF_ERROR(WaitReadable(fd, timeout, "handshake channel"));
  std::string message(max + 1, '\0');
  ssize_t got;
  do {
    got = ::recv(fd, message.data(), message.size(), 0);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return Status::Unavailable(std::string("handshake channel: ") + std::strerror(errno));
  if (got == 0) return Status::Unavailable("handshake channel closed");
  if (static_cast<std::size_t>(got) > max) return Status::InvalidArgument("handshake message too large");
  message.resize(static_cast<std::size_t>(got));
  return message;
}

// A gpupool client that speaks plaintext to the TLS port: tell it why in its own protocol. Its Hello
// is read first, so that closing does not reset the connection before the client reads the answer.
void RefusePlaintext(int fd) {
  char discard[4096];
  while (::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
  }
  const std::string frame =
      Frame(protocol::kOpError,
            protocol::EncodeError({Code::kFailedPrecondition,
                                   "this server accepts only TLS on TCP: give the client the server's CA "
                                   "(GPUPOOL_TLS_CA_FILE, or gpupool run --tls-ca-file)"}));
  (void)::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
}

}  // namespace

Status WorkerTlsHandshake(protocol::Connection& conn, const protocol::TlsServerFiles& files, int broker_fd) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(protocol::kHandshakeTimeoutMs);
  GPUPOOL_RETURN_IF_ERROR(WaitReadable(conn.fd(), Left(deadline), "waiting for the client"));
  unsigned char first[3];
  ssize_t peeked = ::recv(conn.fd(), first, sizeof first, MSG_PEEK);
  if (peeked <= 0) return Status::Unavailable("client closed the connection before the handshake");
  if (!protocol::StartsTlsHandshake(first, static_cast<std::size_t>(peeked))) {
    RefusePlaintext(conn.fd());
    return Status::FailedPrecondition("a client without TLS on the TLS port (told it so)");
  }
  GPUPOOL_RETURN_IF_ERROR(conn.StartTlsServer(files, Left(deadline)));
  GPUPOOL_RETURN_IF_ERROR(conn.SetReceiveTimeout(Left(deadline)));
  GPUPOOL_ASSIGN_OR_RETURN(protocol::FrameHeader header, conn.ReadHeader());
  Status bad;
  if (header.opcode != protocol::kOpHello) bad = Status::InvalidArgument("the first frame must be Hello");
  if (header.payload_size > protocol::kMaxHelloPayload)
    bad = Status::InvalidArgument("Hello frame too large");
  if (!bad.ok()) {
    (void)conn.SendFrame(protocol::kOpError, protocol::kFlagReply, 0,
                         {protocol::EncodeError({bad.code(), bad.message()})});
    return bad;
  }
  std::string hello;
  GPUPOOL_RETURN_IF_ERROR(conn.ReadPayload(header.payload_size, &hello));
  GPUPOOL_RETURN_IF_ERROR(conn.SetReceiveTimeout(std::chrono::milliseconds(0)));

  GPUPOOL_RETURN_IF_ERROR(SendMessage(broker_fd, hello));
  GPUPOOL_ASSIGN_OR_RETURN(std::string answer,
                           ReceiveMessage(broker_fd, kMaxAnswerBytes, kBrokerAnswerTimeout));
  if (answer.size() < protocol::kHeaderSize) return Status::Internal("short answer from the broker");
  GPUPOOL_ASSIGN_OR_RETURN(protocol::FrameHeader reply,
                           protocol::DecodeHeader(reinterpret_cast<const unsigned char*>(answer.data())));
  iovec part{answer.data(), answer.size()};
  GPUPOOL_RETURN_IF_ERROR(conn.WriteV(&part, 1));
  if (reply.opcode == protocol::kOpHelloOk) return Status::Ok();
  auto error = protocol::DecodeError(std::string_view(answer).substr(protocol::kHeaderSize));
  if (!error.ok()) return Status::Internal("the broker's answer does not decode");
  return Status(error->code, "session refused: " + error->message);
}

Result<std::string> ReceiveHelloFromWorker(int fd, std::chrono::milliseconds timeout) {
  return ReceiveMessage(fd, protocol::kMaxHelloPayload, timeout);
}

Status AnswerWorker(int fd, std::uint16_t opcode, std::string_view payload) {
  return SendMessage(fd, Frame(opcode, payload));
}

}  // namespace gpupool::server
