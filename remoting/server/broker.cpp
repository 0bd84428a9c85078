#include "remoting/server/broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "common/token_file.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/wire_reader.h"
#include "remoting/server/tls_handshake.h"

namespace gpupool::server {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxPendingHandshakes = 128;
// A TLS session's worker gets the handshake deadline plus this for starting up before it is killed.
constexpr std::chrono::milliseconds kWorkerStartSlack{2000};

// Reads exactly n bytes before `deadline`: a client trickling bytes cannot stretch the handshake.
Status ReadBy(int fd, void* dst, std::size_t n, Clock::time_point deadline) {
  auto* out = static_cast<char*>(dst);
  while (n > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return Status::DeadlineExceeded("handshake not completed in time");
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // timed out: the loop head reports it
    ssize_t got = ::recv(fd, out, n, MSG_DONTWAIT);
    if (got == 0) return Status::Unavailable("client closed the connection during the handshake");
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::Unavailable(std::string("handshake: ") + std::strerror(errno));
    }
    out += got;
    n -= static_cast<std::size_t>(got);
  }
  return Status::Ok();
}

// Decodes a Hello payload and checks what it must say. On a violation *why says which rule was broken
// (the caller counts it).
Result<protocol::Hello> CheckHello(std::string_view payload, ProtocolError* why) {
  *why = ProtocolError::kHandshake;
  // Magic and version first: a client of another version has other fields, and should hear which
  // version is wrong rather than that its Hello does not decode.
  protocol::Reader head(payload);
  std::uint32_t magic = 0;
  std::uint16_t version = 0;
  head.U32(&magic);
  head.U16(&version);
  if (magic != protocol::kMagic) return Status::InvalidArgument("not a gpupool client (bad magic)");
  if (version < protocol::kOldestProtocolVersion || version > protocol::kProtocolVersion) {
    *why = ProtocolError::kVersion;
    return Status::InvalidArgument("protocol version " + std::to_string(version) +
                                   " not supported (server speaks " +
                                   std::to_string(protocol::kOldestProtocolVersion) + " to " +
                                   std::to_string(protocol::kProtocolVersion) + ")");
  }
  GPUPOOL_ASSIGN_OR_RETURN(protocol::Hello hello, protocol::DecodeHello(payload));
  *why = ProtocolError::kNone;
  return hello;
}

// Reads and checks the Hello. On a protocol violation *why says which rule was broken; a client that
// simply went away leaves it kNone.
Result<protocol::Hello> ReadHello(protocol::Connection& conn, Clock::time_point deadline,
                                  ProtocolError* why) {
  unsigned char raw[protocol::kHeaderSize];
  *why = ProtocolError::kHandshakeTimeout;
  GPUPOOL_RETURN_IF_ERROR(ReadBy(conn.fd(), raw, sizeof raw, deadline));
  *why = ProtocolError::kHandshake;
  GPUPOOL_ASSIGN_OR_RETURN(protocol::FrameHeader header, protocol::DecodeHeader(raw));
  if (header.opcode != protocol::kOpHello) return Status::InvalidArgument("the first frame must be Hello");
  if (header.payload_size > protocol::kMaxHelloPayload)
    return Status::InvalidArgument("Hello frame too large");
  std::string payload(header.payload_size, '\0');
  *why = ProtocolError::kHandshakeTimeout;
  GPUPOOL_RETURN_IF_ERROR(ReadBy(conn.fd(), payload.data(), payload.size(), deadline));
  return CheckHello(payload, why);
}

std::string PeerName(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unix";
}

void SendError(protocol::Connection& conn, const Status& status) {
  (void)conn.SendFrame(protocol::kOpError, protocol::kFlagReply, 0,
                       {protocol::EncodeError({status.code(), status.message()})});
}

}  // namespace

Broker::Broker(ServerOptions options, Registry* registry, Reaper* reaper,
               std::shared_ptr<PodTokenReview> pod_tokens)
    : options_(std::move(options)),
      registry_(registry),
      reaper_(reaper),
      pod_tokens_(std::move(pod_tokens)) {}

Status Broker::Listen() {
  GPUPOOL_ASSIGN_OR_RETURN(protocol::Listener tcp, protocol::Listener::Listen(options_.listen));
  listeners_.push_back(std::make_unique<protocol::Listener>(std::move(tcp)));
  if (options_.unix_socket) {
    // Who may connect is decided by the mode, set before the socket listens, then by the handshake.
    GPUPOOL_ASSIGN_OR_RETURN(protocol::Listener unix_listener,
                             protocol::Listener::Listen(*options_.unix_socket, options_.unix_mode));
    listeners_.push_back(std::make_unique<protocol::Listener>(std::move(unix_listener)));
  }
  return Status::Ok();
}

const Endpoint& Broker::endpoint() const {
  return listeners_.front()->endpoint();
}

void Broker::Start() {
  for (auto& l : listeners_) std::thread([this, listener = l.get()] { AcceptLoop(listener); }).detach();
}

void Broker::AcceptLoop(protocol::Listener* listener) {
  while (true) {
    auto conn = listener->Accept();
    if (!conn.ok()) {
      GPUPOOL_LOG(kError) << "accept on " << listener->endpoint().ToString() << ": "
                          << conn.status().message();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // EMFILE and the like: back off
      continue;
    }
    if (handshakes_.load() >= kMaxPendingHandshakes) {
      GPUPOOL_LOG(kWarn) << "too many handshakes in progress; dropping a connection";
      continue;
    }
    ++handshakes_;
    std::string peer = PeerName(conn->fd());
    const bool tls = options_.tls_enabled() && listener->endpoint().kind == Endpoint::Kind::kTcp;
    std::thread([this, c = std::move(*conn), peer, tls]() mutable {
      if (tls) {
        HandshakeTls(std::move(c), peer);
      } else {
        Handshake(std::move(c), peer);
      }
      --handshakes_;
    }).detach();
  }
}

Status Broker::CheckSharedToken(const protocol::Hello& hello) const {
  // Read for every handshake, so a replaced file takes effect at once; compared in constant time.
  Result<std::string> expected = ReadTokenFile(options_.token_file);
  if (!expected.ok()) return Status::Internal("server cannot read its token file");
  if (hello.token.empty() || !SameToken(hello.token, *expected)) {
    return Status::Unauthenticated("missing or wrong token");
  }
  return Status::Ok();
}

Result<std::string> Broker::ProvePod(const protocol::Hello& hello, Clock::time_point deadline,
                                     AuthFailure* why) const {
  auto identity = pod_tokens_->Check(hello.pod_token, deadline);
  if (!identity.ok()) {
    if (identity.status().code() == Code::kUnavailable) {
      *why = AuthFailure::kTokenReviewFailed;
      return Status::Unauthenticated(identity.status().message());  // fail closed
    }
    *why = AuthFailure::kPodTokenRejected;
    return identity.status();
  }
  if (!hello.pod_uid.empty() && hello.pod_uid != identity->pod_uid) {
    *why = AuthFailure::kPodUidMismatch;
    return Status::PermissionDenied("the Hello claims pod " + hello.pod_uid +
                                    " but the token is bound to pod " + identity->pod_namespace + "/" +
                                    identity->pod_name + " (" + identity->pod_uid + ")");
  }
  return identity->pod_uid;
}

Status Broker::Admit(const protocol::Hello& hello, Clock::time_point deadline, Admission* out,
                     AuthFailure* why) const {
  // In a cluster with --pod-token-review the pod's token decides who the client is; without one, a
  // client needs the shared token (outside the cluster), and the pod UID it names is its claim.
  std::string pod_uid = hello.pod_uid;
  if (pod_tokens_ != nullptr && !hello.pod_token.empty()) {
    GPUPOOL_ASSIGN_OR_RETURN(pod_uid, ProvePod(hello, deadline, why));
  } else if (!options_.token_file.empty()) {
    *why = AuthFailure::kBadToken;
    GPUPOOL_RETURN_IF_ERROR(CheckSharedToken(hello));
  } else if (pod_tokens_ != nullptr) {
    *why = AuthFailure::kPodTokenMissing;
    return Status::Unauthenticated(
        "this server requires the pod's service-account token (GPUPOOL_POD_TOKEN_FILE, set by the gpupool "
        "webhook in pods that ask for gpupool resources) or, outside the cluster, its --token-file token");
  }
  out->pod_uid = pod_uid;
  // No GPU in particular: the server's defaults, over every GPU the session sees.
  out->gpus = {ShareRecord{"", options_.session_percent, options_.session_memory}};
  if (pod_uid.empty()) return Status::Ok();
  auto admission = registry_->FindAdmission(pod_uid);
  if (!admission) {
    *why = AuthFailure::kNotAdmitted;
    return Status::PermissionDenied("pod " + pod_uid + " is not admitted on this server");
  }
  out->pod_namespace = admission->pod_namespace;
  out->pod_name = admission->pod_name;
  // Every GPU of this server the pod was admitted on (distinct, at most SessionStats::kMaxGpus:
  // Control's Admit), in the order of its binding: the session sees them as devices 0, 1, …
  if (!admission->shares.empty()) out->gpus = admission->shares;
  return Status::Ok();
}

Result<SessionRecord> Broker::Decide(const protocol::Hello& hello, const std::string& peer,
                                     Clock::time_point deadline) const {
  Admission admitted;
  AuthFailure why = AuthFailure::kBadToken;
  if (Status s = Admit(hello, deadline, &admitted, &why); !s.ok()) {
    // A server fault (an unreadable token file) is not the client's failure.
    if (s.code() == Code::kUnauthenticated || s.code() == Code::kPermissionDenied)
      registry_->CountAuthFailure(why);
    return s;
  }
  SessionRecord record;
  record.gpus = std::move(admitted.gpus);
  record.peer = peer;
  record.process = hello.process_name + "[" + std::to_string(hello.pid) + "]";
  record.pod_uid = admitted.pod_uid;
  record.pod_namespace = admitted.pod_namespace;
  record.pod_name = admitted.pod_name;
  record.started_unix_ms = NowUnixMs();
  return record;
}

void Broker::Handshake(protocol::Connection conn, std::string peer) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(protocol::kHandshakeTimeoutMs);
  ProtocolError violation = ProtocolError::kNone;
  auto hello = ReadHello(conn, deadline, &violation);
  if (!hello.ok()) {
    GPUPOOL_LOG(kInfo) << "handshake from " << peer << " failed: " << hello.status().ToString();
    // A client that closed mid-handshake broke no rule (a port probe, a client that gave up).
    if (hello.status().code() != Code::kUnavailable) {
      registry_->CountProtocolError(violation);
      SendError(conn, hello.status());
    }
    return;
  }
  auto decided = Decide(*hello, peer, deadline);
  if (!decided.ok()) {
    GPUPOOL_LOG(kInfo) << "refused " << peer << " (" << hello->process_name
                       << "): " << decided.status().ToString();
    SendError(conn, decided.status());
    return;
  }
  auto stats = SharedStats::Create();
  if (!stats.ok()) {
    SendError(conn, stats.status());
    return;
  }
  SessionRecord record = std::move(*decided);
  record.id = registry_->NextSessionId();
  record.stats = std::make_shared<SharedStats>(std::move(*stats));

  // The worker is started and registered before HelloOk goes out, so a session the client knows of
  // is one that Revoke, shutdown and ListSessions see. The worker only reads until the client sends
  // its first call, so HelloOk cannot interleave with its replies.
  std::uint64_t id = record.id;
  std::string ok = protocol::EncodeHelloOk({id, GPUPOOL_VERSION_STRING, options_.device});
  {
    std::lock_guard<std::mutex> spawn_lock(registry_->spawn_mutex());
    WorkerSession worker;
    worker.fd = conn.fd();
    worker.stats_fd = record.stats->fd();
    worker.id = id;
    std::vector<int> keep = {worker.fd, worker.stats_fd};
    PublishAdmission(&record);
    if (ShareTable* shares = registry_->share_table()) {
      worker.share_table_fd = shares->fd();
      keep.push_back(shares->fd());
    }
    if (IpcDirectory* ipc = registry_->ipc_directory()) {
      worker.ipc_directory_fd = ipc->fd();
      keep.push_back(ipc->fd());
    }
    auto pid = SpawnSelf(WorkerArgs(options_, worker), keep);
    if (!pid.ok()) {
      if (ShareTable* shares = registry_->share_table()) ReleaseShareSlots(*shares, *record.stats->get());
      GPUPOOL_LOG(kError) << "cannot start a session worker: " << pid.status().ToString();
      SendError(conn, pid.status());
      return;
    }
    reaper_->ChildStarted();
    record.pid = *pid;
    GPUPOOL_LOG(kInfo) << "session " << id << " for " << record.process << " from " << peer << ": worker "
                       << *pid;
    registry_->AddSession(std::move(record));
  }
  (void)conn.SendFrame(protocol::kOpHelloOk, protocol::kFlagReply, 0,
                       {ok});  // on failure the worker sees EOF
  // `conn` closes here: the worker has its own copy of the descriptor.
}

void Broker::HandshakeTls(protocol::Connection conn, std::string peer) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(protocol::kHandshakeTimeoutMs);
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    GPUPOOL_LOG(kError) << "handshake from " << peer << ": socketpair: " << std::strerror(errno);
    return;
  }
  protocol::Connection to_worker(pair[0]), worker_end(pair[1]);  // close on every path
  auto stats = SharedStats::Create();
  if (!stats.ok()) {
    GPUPOOL_LOG(kError) << "handshake from " << peer << ": " << stats.status().ToString();
    return;
  }
  auto shared = std::make_shared<SharedStats>(std::move(*stats));
  const std::uint64_t id = registry_->NextSessionId();
  pid_t pid = -1;
  {
    std::lock_guard<std::mutex> spawn_lock(registry_->spawn_mutex());
    WorkerSession worker;  // what the Hello decides reaches the worker through `shared`
    worker.fd = conn.fd();
    worker.stats_fd = shared->fd();
    worker.id = id;
    worker.broker_fd = worker_end.fd();
    std::vector<int> keep = {worker.fd, worker.stats_fd, worker.broker_fd};
    if (ShareTable* shares = registry_->share_table()) {
      worker.share_table_fd = shares->fd();
      keep.push_back(shares->fd());
    }
    if (IpcDirectory* ipc = registry_->ipc_directory()) {
      worker.ipc_directory_fd = ipc->fd();
      keep.push_back(ipc->fd());
    }
    auto started = SpawnSelf(WorkerArgs(options_, worker), keep);
    if (!started.ok()) {
      GPUPOOL_LOG(kError) << "cannot start a session worker: " << started.status().ToString();
      return;
    }
    reaper_->ChildStarted();
    pid = *started;
  }
  worker_end = protocol::Connection();  // the worker's end: its EOF then means the worker is gone
  conn = protocol::Connection();

  auto payload = ReceiveHelloFromWorker(
      to_worker.fd(), std::chrono::milliseconds(protocol::kHandshakeTimeoutMs) + kWorkerStartSlack);
  if (!payload.ok()) {
    // Still running after the deadline (its end of the channel is open): a slow or silent client.
    if (payload.status().code() == Code::kDeadlineExceeded) ::kill(pid, SIGKILL);
    GPUPOOL_LOG(kInfo) << "TLS handshake from " << peer << " failed: " << payload.status().ToString();
    return;
  }
  ProtocolError violation = ProtocolError::kNone;
  auto hello = CheckHello(*payload, &violation);
  if (!hello.ok()) registry_->CountProtocolError(violation);
  Result<SessionRecord> decided = hello.ok() ? Decide(*hello, peer, deadline) : hello.status();
  if (!decided.ok()) {
    GPUPOOL_LOG(kInfo) << "refused " << peer << (hello.ok() ? " (" + hello->process_name + ")" : "") << ": "
                       << decided.status().ToString();
    (void)AnswerWorker(to_worker.fd(), protocol::kOpError,
                       protocol::EncodeError({decided.status().code(), decided.status().message()}));
    return;
  }
  SessionRecord record = std::move(*decided);
  record.id = id;
  record.pid = pid;
  record.stats = shared;
  {
    std::lock_guard<std::mutex> spawn_lock(registry_->spawn_mutex());
    // A worker the reaper has already collected must not be registered (nothing would remove it).
    if (::kill(pid, 0) != 0) return;
    // The worker reads what was admitted from the shared counters once HelloOk arrives.
    PublishAdmission(&record);
    GPUPOOL_LOG(kInfo) << "session " << id << " for " << record.process << " from " << peer
                       << " (TLS): worker " << pid;
    registry_->AddSession(std::move(record));
  }
  (void)AnswerWorker(to_worker.fd(), protocol::kOpHelloOk,
                     protocol::EncodeHelloOk({id, GPUPOOL_VERSION_STRING, options_.device}));
}

void Broker::PublishAdmission(SessionRecord* record) const {
  SessionStats* stats = record->stats->get();
  std::snprintf(stats->pod_uid, sizeof stats->pod_uid, "%s", record->pod_uid.c_str());
  ShareTable* shares = registry_->share_table();
  const std::size_t count = std::min<std::size_t>(record->gpus.size(), SessionStats::kMaxGpus);
  for (std::size_t i = 0; i < count; ++i) {
    const ShareRecord& share = record->gpus[i];
    SessionGpu& gpu = stats->gpus[i];
    std::snprintf(gpu.uuid, sizeof gpu.uuid, "%s", share.gpu_uuid.c_str());
    gpu.percent = share.percent;
    gpu.memory_limit_bytes = share.memory_bytes;
    gpu.share_slot = shares != nullptr ? shares->Claim(record->id, share.gpu_uuid) : ShareTable::kNoSlot;
  }
  stats->gpus_admitted = static_cast<std::uint32_t>(count);
}

}  // namespace gpupool::server
