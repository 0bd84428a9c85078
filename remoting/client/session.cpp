#include "remoting/client/session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/log.h"
#include "remoting/protocol/calls.h"
#include "remoting/protocol/codec.h"

namespace gpupool::client {
namespace {

constexpr CUresult kConnectionLost = CUDA_ERROR_DEVICE_UNAVAILABLE;
constexpr auto kConnectTimeout = std::chrono::milliseconds(5000);

// A server that vanishes without closing (host down, cable pulled) must become an error within
// about 4 s, so the client probes an idle connection much more eagerly than the server does.
void TightenKeepAlive(int fd) {
  int one = 1, idle = 2, interval = 1, count = 2, user_timeout_ms = 4000;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

std::string ProcessName() {
  std::ifstream in("/proc/self/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

Result<protocol::HelloOk> Handshake(protocol::Connection& conn, const std::string& token) {
  protocol::Hello hello;
  hello.magic = protocol::kMagic;
  hello.version = protocol::kProtocolVersion;
  hello.token = token;
  hello.process_name = ProcessName();
  hello.pid = static_cast<std::uint32_t>(::getpid());
  const std::string payload = protocol::EncodeHello(hello);
  GPUPOOL_RETURN_IF_ERROR(conn.SendFrame(protocol::kOpHello, 0, 0, {payload}));
  GPUPOOL_RETURN_IF_ERROR(conn.SetReceiveTimeout(kConnectTimeout));
  GPUPOOL_ASSIGN_OR_RETURN(protocol::FrameHeader header, conn.ReadHeader());
  std::string reply;
  GPUPOOL_RETURN_IF_ERROR(conn.ReadPayload(header.payload_size, &reply));
  GPUPOOL_RETURN_IF_ERROR(conn.SetReceiveTimeout(std::chrono::milliseconds(0)));
  if (header.opcode == protocol::kOpError) {
    GPUPOOL_ASSIGN_OR_RETURN(protocol::ErrorMessage error, protocol::DecodeError(reply));
    return Status(error.code, "server refused the session: " + error.message);
  }
  if (header.opcode != protocol::kOpHelloOk)
    return Status::Internal("server answered Hello with an unknown frame");
  return protocol::DecodeHelloOk(reply);
}

}  // namespace

Result<std::unique_ptr<Session>> Session::Open(const ServerAddress& address) {
  GPUPOOL_ASSIGN_OR_RETURN(protocol::Connection conn, protocol::Connect(address.endpoint, kConnectTimeout));
  if (address.endpoint.kind == Endpoint::Kind::kTcp) TightenKeepAlive(conn.fd());
  std::unique_ptr<Session> session(new Session(std::move(conn)));
  auto hello = Handshake(session->conn_, address.token);
  if (!hello.ok()) return hello.status().Annotate(address.endpoint.ToString());
  session->hello_ = *hello;
  return session;
}

Session::~Session() = default;

void Session::Abandon() {
  broken_.store(CUDA_ERROR_NOT_INITIALIZED);
  ::close(conn_.Release());
}

CUresult Session::Fail(const std::string& why) {
  CUresult expected = CUDA_SUCCESS;
  if (broken_.compare_exchange_strong(expected, kConnectionLost)) {
    GPUPOOL_LOG(kError) << "connection to gpupool-server lost: " << why;
    conn_.Shutdown();
  }
  std::lock_guard<std::mutex> lock(pending_mu_);
  for (auto& [id, pending] : pending_) {
    pending->result = broken_.load();
    pending->done = true;
  }
  pending_.clear();
  return broken_.load();
}

CUresult Session::Send(std::uint16_t opcode, bool no_reply, std::uint64_t context, const std::string& args,
                       const iovec* tail, int tail_count, Pending* pending) {
  if (broken()) return broken_.load();
  std::lock_guard<std::mutex> lock(send_mu_);
  if (context != 0 && context != current_context_) {
    protocol::Writer w;
    w.U64(context);
    Status sent = conn_.SendFrame(static_cast<std::uint16_t>(protocol::Op::CtxSetCurrent),
                                  protocol::kFlagNoReply, ++next_id_, {w.data()});
    if (!sent.ok()) return Fail(sent.ToString());
    current_context_ = context;
  }
  const std::uint64_t id = ++next_id_;
  if (pending != nullptr) {
    std::lock_guard<std::mutex> plock(pending_mu_);
    pending_[id] = pending;
  }
  iovec parts[8];
  int count = 0;
  parts[count++] = {const_cast<char*>(args.data()), args.size()};
  for (int i = 0; i < tail_count && count < 8; ++i) parts[count++] = tail[i];
  Status sent = conn_.SendFrameV(opcode, no_reply ? protocol::kFlagNoReply : 0, id, parts, count);
  if (!sent.ok()) return Fail(sent.ToString());
  return CUDA_SUCCESS;
}

CUresult Session::Wait(Pending* pending) {
  std::lock_guard<std::mutex> lock(recv_mu_);
  while (true) {
    {
      std::lock_guard<std::mutex> plock(pending_mu_);
      if (pending->done) return pending->result;
    }
    if (broken()) return Fail("");
    ReadOneReply();
  }
}

CUresult Session::ReadOneReply() {
  auto header = conn_.ReadHeader();
  if (!header.ok()) return Fail(header.status().ToString());
  if (header->opcode == protocol::kOpError) {
    std::string payload;
    (void)conn_.ReadPayload(header->payload_size, &payload);
    auto error = protocol::DecodeError(payload);
    return Fail("server ended the session: " + (error.ok() ? error->message : payload));
  }
  Pending* pending = nullptr;
  {
    std::lock_guard<std::mutex> plock(pending_mu_);
    auto it = pending_.find(header->request_id);
    if (it != pending_.end()) {
      pending = it->second;
      pending_.erase(it);
    }
  }
  if (pending == nullptr || (header->flags & protocol::kFlagReply) == 0 || header->payload_size < 4) {
    return Fail("unexpected frame (opcode " + protocol::OpName(header->opcode) + ")");
  }
  std::uint32_t result = 0;
  Status read = conn_.ReadExact(&result, 4);
  std::size_t rest = header->payload_size - 4;
  if (read.ok() && result == CUDA_SUCCESS && pending->tail != nullptr) {
    if (rest != pending->tail_size)
      return Fail("reply carries " + std::to_string(rest) + " bytes, expected " +
                  std::to_string(pending->tail_size));
    read = conn_.ReadExact(pending->tail, rest);
  } else if (read.ok()) {
    read = conn_.ReadPayload(rest, &pending->fields);
  }
  if (!read.ok()) return Fail(read.ToString());
  std::lock_guard<std::mutex> plock(pending_mu_);
  pending->result = static_cast<CUresult>(result);
  pending->done = true;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
