#include "remoting/client/session.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/env_switch.h"
#include "common/log.h"
#include "remoting/protocol/calls.h"
#include "remoting/protocol/codec.h"
#include "remoting/protocol/deferred_staging.h"
#include "remoting/protocol/device_output.h"
#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::client {
namespace {

constexpr CUresult kConnectionLost = CUDA_ERROR_DEVICE_UNAVAILABLE;
// Batching: a batch is written once it holds this many bytes, or this long after its first frame.
constexpr std::size_t kBatchLimit = 64u << 10;
constexpr auto kFlushDelay = std::chrono::microseconds(200);
// An async frame with more tail bytes than this (an async host-to-device chunk) is written at once,
// from the caller's buffer, instead of being copied into the batch.
constexpr std::size_t kMaxBatchedTail = 32u << 10;
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

Result<protocol::HelloOk> Handshake(protocol::Connection& conn, const ServerAddress& address) {
  protocol::Hello hello;
  hello.magic = protocol::kMagic;
  hello.version = protocol::kProtocolVersion;
  hello.token = address.token;
  hello.process_name = ProcessName();
  hello.pid = static_cast<std::uint32_t>(::getpid());
  hello.pod_uid = address.pod_uid;
  hello.pod_token = address.pod_token;
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

// How long a read of a reply polls before it sleeps: GPUPOOL_SPIN_US microseconds, default 50, 0 or
// "off" for none. A sleeping reader is woken by the kernel when the reply lands, which on an idle
// machine whose worker runs on another core costs more than the round trip itself (about 40 µs
// against 10 µs on the 2-core build machine, bench/results/read-spin.md); a short poll catches most
// replies first. CUDA itself spins while it waits for the GPU unless told otherwise
// (CU_CTX_SCHED_AUTO), so a waiting program already expects to hold its core; this holds it for at
// most the budget per reply, then sleeps.
std::chrono::microseconds ReadSpin() {
  constexpr std::chrono::microseconds kDefault{50};
  const char* value = std::getenv("GPUPOOL_SPIN_US");
  if (value == nullptr || *value == '\0') return kDefault;
  if (std::strcmp(value, "off") == 0) return std::chrono::microseconds(0);
  char* end = nullptr;
  const unsigned long us = std::strtoul(value, &end, 10);
  if (*end != '\0' || us > 1000000) {
    GPUPOOL_LOG_ONCE(kWarn, "GPUPOOL_SPIN_US")
        << "GPUPOOL_SPIN_US=" << value << " is not a number of microseconds up to 1000000; using "
        << kDefault.count();
    return kDefault;
  }
  return std::chrono::microseconds(us);
}

// GPUPOOL_COPY_RING=off (or 0) keeps copies on the socket even when the server is on this host.
bool CopyRingWanted() {
  return EnvSwitchOn("GPUPOOL_COPY_RING");
}

// Copies `n` bytes that start at `offset` in a reply's packed rows to where those rows land.
void PlaceRows(const Pending& pending, std::size_t offset, const char* bytes, std::size_t n) {
  auto* base = static_cast<char*>(pending.tail);
  const std::size_t row = pending.tail_row, pitch = pending.tail_pitch;
  for (std::size_t at = 0; at < n;) {  // `offset + at` is a position in the packed rows
    const std::size_t col = (offset + at) % row;
    const std::size_t len = std::min(row - col, n - at);
    std::memcpy(base + (offset + at) / row * pitch + col, bytes + at, len);
    at += len;
  }
}

}  // namespace

bool Session::DeferredCopiesWanted() {
  static const bool wanted = EnvSwitchOn("GPUPOOL_DEFERRED_COPIES");
  return wanted;
}

bool Session::MappedMemoryWanted() {
  static const bool wanted = EnvSwitchOn("GPUPOOL_MAPPED_MEMORY");
  return wanted;
}

Result<std::unique_ptr<Session>> Session::Open(const ServerAddress& address, const Check& before_ring) {
  GPUPOOL_ASSIGN_OR_RETURN(protocol::Connection conn, protocol::Connect(address.endpoint, kConnectTimeout));
  if (address.endpoint.kind == Endpoint::Kind::kTcp) TightenKeepAlive(conn.fd());
  if (address.use_tls) {
    Status tls = conn.StartTlsClient(address.tls, address.endpoint.host, kConnectTimeout);
    if (!tls.ok()) return tls.Annotate(address.endpoint.ToString());
  }
  std::unique_ptr<Session> session(new Session(std::move(conn)));
  auto hello = Handshake(session->conn_, address);
  if (!hello.ok()) return hello.status().Annotate(address.endpoint.ToString());
  session->hello_ = *hello;
  session->conn_.SetReadSpin(ReadSpin());
  if (before_ring) GPUPOOL_RETURN_IF_ERROR(before_ring(*session));
  if (address.endpoint.kind == Endpoint::Kind::kUnix && !address.use_tls && address.copy_ring &&
      CopyRingWanted()) {
    auto ring = CopyRing::Open(session->conn_);
    if (!ring.ok()) return ring.status().Annotate(address.endpoint.ToString() + ": copy ring");
    session->ring_ = std::move(*ring);
  }
  if (session->ring_ != nullptr && DeferredCopiesWanted()) {
    auto staging =
        RequestSharedRegion(session->conn_, protocol::kOpOpenDeferredStaging, "OpenDeferredStaging",
                            {0, protocol::kStagingSlots, protocol::kStagingSlotBytes,
                             static_cast<std::uint32_t>(protocol::kStagingHeaderBytes)},
                            protocol::kStagingBytes);
    if (!staging.ok()) return staging.status().Annotate(address.endpoint.ToString() + ": deferred staging");
    session->staging_ = std::move(*staging);
  }
  if (session->ring_ != nullptr && MappedMemoryWanted()) {
    auto arena = MappedArena::Open(session->conn_);
    if (!arena.ok()) return arena.status().Annotate(address.endpoint.ToString() + ": mapped arena");
    session->arena_ = std::move(*arena);
  }
  Session* raw = session.get();
  session->flusher_ = std::thread([raw] { raw->FlusherLoop(); });
  return session;
}

Session::~Session() {
  {
    std::lock_guard<std::mutex> lock(send_mu_);
    stopping_ = true;
    if (!batch_.empty()) (void)WriteLocked(nullptr, 0);
  }
  batch_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

void Session::FlusherLoop() {
  std::unique_lock<std::mutex> lock(send_mu_);
  while (true) {
    batch_cv_.wait(lock, [this] { return stopping_ || !batch_.empty(); });
    if (stopping_) return;
    // Let the batch grow for a moment (a synchronising call or the size limit usually sends it
    // first), then send whatever is there.
    lock.unlock();
    std::this_thread::sleep_for(kFlushDelay);
    lock.lock();
    if (!batch_.empty() && !broken()) (void)WriteLocked(nullptr, 0);
    if (broken()) batch_.clear();
  }
}

void Session::FlushAndStopBatching() {
  if (broken()) return;  // also after fork in the child, whose copy of send_mu_ may be held
  std::lock_guard<std::mutex> lock(send_mu_);
  batching_ = false;
  if (!batch_.empty() && !broken()) (void)WriteLocked(nullptr, 0);
}

void Session::Flush() {
  if (broken()) return;
  std::lock_guard<std::mutex> lock(send_mu_);
  if (!batch_.empty() && !broken()) (void)WriteLocked(nullptr, 0);
}

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
    if (pending->owned) {  // a deferred call's, which nobody waits for; one being read is not here
      ForgetOwnedLocked(pending);
      continue;
    }
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
  const bool was_empty = batch_.empty();
  unsigned char header[protocol::kHeaderSize];
  if (context != 0 && context != current_context_) {
    protocol::Writer w;
    w.U64(context);
    protocol::EncodeHeader(
        {static_cast<std::uint32_t>(w.data().size()), static_cast<std::uint16_t>(protocol::Op::CtxSetCurrent),
         protocol::kFlagNoReply, ++next_id_},
        header);
    iovec part{const_cast<char*>(w.data().data()), w.data().size()};
    AppendLocked(header, &part, 1);
    current_context_ = context;
  }
  const std::uint64_t id = ++next_id_;
  iovec parts[9];
  int count = 1;
  std::size_t payload = args.size(), tail_bytes = 0;
  parts[0] = {header, protocol::kHeaderSize};
  parts[count++] = {const_cast<char*>(args.data()), args.size()};
  for (int i = 0; i < tail_count && count < 9; ++i) {
    parts[count++] = tail[i];
    tail_bytes += tail[i].iov_len;
  }
  payload += tail_bytes;
  if (payload > protocol::kMaxPayload) return CUDA_ERROR_INVALID_VALUE;
  protocol::EncodeHeader({static_cast<std::uint32_t>(payload), opcode,
                          static_cast<std::uint16_t>(no_reply ? protocol::kFlagNoReply : 0), id},
                         header);
  if (no_reply && batching_ && tail_bytes <= kMaxBatchedTail) {
    AppendLocked(header, parts + 1, count - 1);
    if (batch_.size() >= kBatchLimit) return WriteLocked(nullptr, 0);
    if (was_empty) batch_cv_.notify_one();
    return CUDA_SUCCESS;
  }
  if (pending != nullptr) {
    std::lock_guard<std::mutex> plock(pending_mu_);
    pending_[id] = pending;
  }
  return WriteLocked(parts, count);
}

CUresult Session::SendDeferred(std::uint16_t opcode, std::uint64_t context, const std::string& args,
                               void* tail, std::size_t tail_size, bool on_blocking_stream, std::size_t row,
                               std::size_t pitch) {
  auto owned = std::make_unique<Pending>();
  Pending* pending = owned.get();
  pending->tail = tail;
  pending->tail_size = tail_size;
  pending->tail_row = row;
  pending->tail_pitch = pitch;
  pending->owned = true;
  pending->on_blocking_stream = on_blocking_stream;
  {
    std::lock_guard<std::mutex> plock(pending_mu_);
    if (owned_.size() >= protocol::kMaxDeferredCopies) return CUDA_ERROR_NOT_READY;
    owned_[pending] = std::move(owned);
    owned_count_.store(owned_.size(), std::memory_order_relaxed);
  }
  const CUresult sent = Send(opcode, false, context, args, nullptr, 0, pending);
  if (sent != CUDA_SUCCESS) {  // never registered, or dropped with every other by Fail
    std::lock_guard<std::mutex> plock(pending_mu_);
    ForgetOwnedLocked(pending);
  }
  return sent;
}

void Session::ForgetOwnedLocked(Pending* pending) {
  owned_.erase(pending);
  owned_count_.store(owned_.size(), std::memory_order_relaxed);
}

std::size_t Session::deferred() const {
  return owned_count_.load(std::memory_order_relaxed);
}

bool Session::AnyDeferred(const std::function<bool(const Pending&)>& accept) const {
  if (deferred() == 0) return false;
  std::lock_guard<std::mutex> plock(pending_mu_);
  for (const auto& [pending, owned] : owned_)
    if (accept(*pending)) return true;
  return false;
}

void Session::AppendLocked(const unsigned char* header, const iovec* parts, int count) {
  batch_.append(reinterpret_cast<const char*>(header), protocol::kHeaderSize);
  for (int i = 0; i < count; ++i)
    batch_.append(static_cast<const char*>(parts[i].iov_base), parts[i].iov_len);
}

CUresult Session::WriteLocked(iovec* parts, int count) {
  iovec iov[10];
  int n = 0;
  if (!batch_.empty()) iov[n++] = {batch_.data(), batch_.size()};
  for (int i = 0; i < count && n < 10; ++i) {
    if (parts[i].iov_len > 0) iov[n++] = parts[i];
  }
  Status sent = conn_.WriteV(iov, n);
  if (!sent.ok()) {
    batch_.clear();
    return Fail(sent.ToString());
  }
  batch_.clear();
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

Status Session::ReadBuffered(void* dst, std::size_t size) {
  auto* out = static_cast<char*>(dst);
  const std::size_t buffered = std::min(size, rend_ - rbegin_);
  std::memcpy(out, rbuf_.get() + rbegin_, buffered);
  rbegin_ += buffered;
  size -= buffered;
  out += buffered;
  if (size == 0) return Status::Ok();
  // Large remainders (device-to-host data) go straight to their destination; small ones are read
  // with whatever follows, so a reply costs one recv.
  if (size >= kReceiveBuffer / 2) return conn_.ReadExact(out, size);
  rbegin_ = rend_ = 0;
  while (rend_ < size) {
    GPUPOOL_ASSIGN_OR_RETURN(std::size_t got, conn_.ReadSome(rbuf_.get() + rend_, kReceiveBuffer - rend_));
    rend_ += got;
  }
  std::memcpy(out, rbuf_.get(), size);
  rbegin_ = size;
  return Status::Ok();
}

CUresult Session::ReadOneReply() {
  unsigned char raw_header[protocol::kHeaderSize];
  Status got = ReadBuffered(raw_header, sizeof raw_header);
  if (!got.ok()) return Fail(got.ToString());
  auto header = protocol::DecodeHeader(raw_header);
  if (!header.ok()) return Fail(header.status().ToString());
  if (header->opcode == protocol::kOpError) {
    std::string payload(header->payload_size, '\0');
    (void)ReadBuffered(payload.data(), payload.size());
    auto error = protocol::DecodeError(payload);
    return Fail("server ended the session: " + (error.ok() ? error->message : payload));
  }
  if (header->opcode == protocol::kOpDeviceOutput) return WriteDeviceOutput(*header);
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
  Status read = ReadBuffered(&result, 4);
  std::size_t rest = header->payload_size - 4;
  if (read.ok() && result == CUDA_SUCCESS && pending->owned) {
    read = ReadDeferred(*pending, rest);
  } else if (read.ok() && result == CUDA_SUCCESS && pending->tail != nullptr) {
    if (rest != pending->tail_size)
      return Fail("reply carries " + std::to_string(rest) + " bytes, expected " +
                  std::to_string(pending->tail_size));
    read = ReadTail(*pending);
  } else if (read.ok()) {
    pending->fields.resize(rest);
    read = ReadBuffered(pending->fields.data(), rest);
  }
  if (!read.ok()) return Fail(read.ToString());
  std::lock_guard<std::mutex> plock(pending_mu_);
  pending->result = static_cast<CUresult>(result);
  pending->done = true;
  if (pending->owned) ForgetOwnedLocked(pending);  // nobody waits for it: its bytes are where they belong
  return CUDA_SUCCESS;
}

Status Session::ReadTail(const Pending& pending) {
  auto* base = static_cast<char*>(pending.tail);
  const std::size_t size = pending.tail_size, row = pending.tail_row, pitch = pending.tail_pitch;
  if (row == 0) return ReadBuffered(base, size);
  if (row >= kDirectRow) {
    for (std::size_t done = 0; done < size; done += row)
      GPUPOOL_RETURN_IF_ERROR(ReadBuffered(base + done / row * pitch, std::min(row, size - done)));
    return Status::Ok();
  }
  if (bounce_ == nullptr) bounce_.reset(new char[kBounceBytes]);
  for (std::size_t done = 0; done < size;) {
    const std::size_t n = std::min(kBounceBytes, size - done);
    GPUPOOL_RETURN_IF_ERROR(ReadBuffered(bounce_.get(), n));
    PlaceRows(pending, done, bounce_.get(), n);
    done += n;
  }
  return Status::Ok();
}

std::size_t TailExtent(const Pending& pending) {
  if (pending.tail_row == 0 || pending.tail_size == 0) return pending.tail_size;
  const std::size_t rows = (pending.tail_size + pending.tail_row - 1) / pending.tail_row;
  return (rows - 1) * pending.tail_pitch + (pending.tail_size - (rows - 1) * pending.tail_row);
}

Status Session::ReadDeferred(const Pending& pending, std::size_t rest) {
  std::uint32_t slot = 0;
  if (rest < sizeof slot) return Status::InvalidArgument("a deferred copy's reply without its slot");
  GPUPOOL_RETURN_IF_ERROR(ReadBuffered(&slot, sizeof slot));
  rest -= sizeof slot;
  if (slot == 0) {
    if (rest != pending.tail_size)
      return Status::InvalidArgument("a deferred copy's reply carries " + std::to_string(rest) +
                                     " bytes, expected " + std::to_string(pending.tail_size));
    return ReadTail(pending);
  }
  if (rest != 0 || staging_ == nullptr || slot > protocol::kStagingSlots ||
      pending.tail_size > protocol::kStagingSlotBytes)
    return Status::InvalidArgument("a deferred copy's reply names staging slot " + std::to_string(slot));
  char* base = staging_->base();
  const char* bytes =
      base + protocol::kStagingHeaderBytes + std::size_t{slot - 1} * protocol::kStagingSlotBytes;
  if (pending.tail_row != 0) {
    PlaceRows(pending, 0, bytes, pending.tail_size);
  } else {
    std::memcpy(pending.tail, bytes, pending.tail_size);
  }
  reinterpret_cast<protocol::StagingHeader*>(base)->held[slot - 1].store(0, std::memory_order_release);
  return Status::Ok();
}

CUresult Session::WriteDeviceOutput(const protocol::FrameHeader& header) {
  bool awaited = false;
  {
    std::lock_guard<std::mutex> plock(pending_mu_);
    awaited = pending_.count(header.request_id) != 0;
  }
  // It precedes the reply of a request still waiting for one; anything else breaks the session.
  if (!awaited || (header.flags & protocol::kFlagReply) == 0)
    return Fail("unexpected DeviceOutput frame (request " + std::to_string(header.request_id) + ")");
  std::string payload(header.payload_size, '\0');
  Status read = ReadBuffered(payload.data(), payload.size());
  if (!read.ok()) return Fail(read.ToString());
  auto output = protocol::DecodeDeviceOutput(payload);
  if (!output.ok()) return Fail(output.status().ToString());
  if (output->dropped != 0) {
    GPUPOOL_LOG(kWarn) << output->dropped
                       << " bytes of device printf output were dropped: the server holds at most "
                       << protocol::kMaxBufferedOutput << " bytes between two answered calls";
  }
  // Through the application's own stdio stdout, as the driver writes it natively: it interleaves
  // with the program's printf in the same order, and is flushed when the program's output is.
  if (!output->text.empty()) (void)std::fwrite(output->text.data(), 1, output->text.size(), stdout);
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
