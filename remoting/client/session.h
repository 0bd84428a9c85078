// Session: the client's one connection to its gpupool-server, shared by all of the program's threads.
//
// Requests go out in the order the program made them (one send lock); replies come back in request
// order and are read by whichever thread is waiting (one receive lock): a waiter reads frames until
// its own reply has arrived, handing earlier replies to their waiters. A reply's bulk bytes
// (device-to-host data) are read straight into the destination the caller registered.
// Asynchronous calls (kAsync) are sent with kFlagNoReply and never waited for; the server latches
// their errors and reports them at the next synchronising call.
// Deferred calls (kDeferred, device-to-host copies into pinned memory) are answered when the GPU has
// done them, ahead of the reply of a later synchronisation: the session owns their Pending, and
// whichever thread reads the reply puts the bytes where they belong, from the socket or, with a
// worker on this host, from the deferred staging it shares (protocol/deferred_staging.h).
//
// Batching (docs/protocol.md, "Batching"): asynchronous frames are appended to a per-connection
// buffer instead of being written one by one. The buffer goes out, in order, (a) in the same gather
// write as the next synchronous request (so a query or synchronisation always flushes), (b) when it
// passes kBatchLimit bytes, (c) at most kFlushDelay after its first frame, from a flusher thread
// (a program that launches and then only sleeps still makes progress), and (d) at process exit,
// after which nothing is buffered any more. Async frames with a large tail go out at once.
// Replies are read through a small buffer, so a reply header and its fields cost one recv.
// When the server is on this host (a Unix socket without TLS), bulk copy bytes go through a copy
// ring in shared memory instead (copy_ring.h; GPUPOOL_COPY_RING=off keeps them on the socket), and
// pinned host memory comes from an arena the worker maps too (mapped_arena.h), which the GPU can reach.
// DeviceOutput frames (device printf text, docs/protocol.md "Device output") come before the reply
// they belong to and are written to the program's stdout (stdio) as they are read, so the text is
// there when the call returns.
//
// A broken connection (server gone, malformed frame, error frame) fails every pending and later
// call with CUDA_ERROR_DEVICE_UNAVAILABLE: a dead server is an error within the keep-alive time
// (about 4 s on TCP, immediate on Unix sockets), never a hang.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <cuda.h>
#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "remoting/client/copy_ring.h"
#include "remoting/client/mapped_arena.h"
#include "remoting/client/server_address.h"
#include "remoting/client/shared_region.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/transport.h"

namespace gpupool::client {

// One outstanding request that is answered.
struct Pending {
  bool done = false;
  CUresult result = CUDA_SUCCESS;
  std::string fields;         // the encoded reply fields (result == CUDA_SUCCESS)
  void* tail = nullptr;       // kReplyTail: where the bulk bytes go
  std::size_t tail_size = 0;  // ... and how many are expected
  // Rows of a 2D copy: when tail_row is set, the bytes land as rows of tail_row bytes, tail_pitch
  // apart (the program's memory between rows is left alone).
  std::size_t tail_row = 0, tail_pitch = 0;
  bool owned = false;  // a deferred call's: the session deletes it when its reply is read
  // A deferred call's: its stream is waited for by the legacy NULL stream (not CU_STREAM_NON_BLOCKING).
  bool on_blocking_stream = true;
};

// The bytes of the program's memory a reply's tail lands in, first to last: tail_size, or for rows
// the span from the first row's start to the last row's end.
std::size_t TailExtent(const Pending& pending);

class Session {
 public:
  // `before_ring`, when given, runs after the handshake and before the copy ring is set up: a caller
  // still deciding whether this is the server it wants (local_server.h) asks its questions there, and
  // a failure closes the connection before any memory is shared with the server.
  using Check = std::function<Status(Session&)>;
  static Result<std::unique_ptr<Session>> Open(const ServerAddress& address, const Check& before_ring = {});
  ~Session();

  const protocol::HelloOk& hello() const { return hello_; }

  // Sends one request. `context` (a server context id, 0 for none) is made current on the server
  // first when it is not already. `pending` is null for kAsync calls.
  CUresult Send(std::uint16_t opcode, bool no_reply, std::uint64_t context, const std::string& args,
                const iovec* tail, int tail_count, Pending* pending);
  // Waits until `pending`'s reply has been read.
  CUresult Wait(Pending* pending);
  // Sends a kDeferred request; its reply's bulk bytes (`tail_size` of them) go to `tail` whenever
  // it is read. Its error, if any, the server reports at the next synchronising call.
  // CUDA_ERROR_NOT_READY, sending nothing, when kMaxDeferredCopies are out already.
  // `row` and `pitch` (when row is not 0): the bytes land as rows, as Pending's tail_row and tail_pitch.
  CUresult SendDeferred(std::uint16_t opcode, std::uint64_t context, const std::string& args, void* tail,
                        std::size_t tail_size, bool on_blocking_stream, std::size_t row = 0,
                        std::size_t pitch = 0);
  // Deferred requests whose reply has not been read yet.
  std::size_t deferred() const;
  // Whether `accept` takes one of them (their Pending: where the bytes go, the stream's kind).
  bool AnyDeferred(const std::function<bool(const Pending&)>& accept) const;
  // GPUPOOL_DEFERRED_COPIES=off (or 0): no deferred copies (copy_engine.h), and no staging for them.
  static bool DeferredCopiesWanted();

  // Sends what is batched now, and from then on every call at once (at process exit).
  void FlushAndStopBatching();
  // Sends what is batched now.
  void Flush();
  // The copy ring shared with a worker on this host (copy_ring.h), or null: copies use the socket.
  CopyRing* copy_ring() const { return ring_.get(); }
  // The mapped arena shared with a worker on this host (mapped_arena.h), or null: pinned memory is
  // the program's alone and no kernel can reach it.
  MappedArena* mapped_arena() const { return arena_.get(); }
  // GPUPOOL_MAPPED_MEMORY=off (or 0): no mapped arena, as with a server on another host.
  static bool MappedMemoryWanted();
  // Replies are waited for asleep from now on, without polling first (GPUPOOL_SPIN_US): the program
  // asked CUDA not to spin (CU_CTX_SCHED_BLOCKING_SYNC).
  void StopPolling() { conn_.SetReadSpin(std::chrono::nanoseconds(0)); }

  // Drops the connection without a goodbye (after fork, in the child: the parent keeps it).
  void Abandon();
  bool broken() const { return broken_.load() != CUDA_SUCCESS; }

 private:
  explicit Session(protocol::Connection conn) : conn_(std::move(conn)) {}
  CUresult Fail(const std::string& why);
  CUresult ReadOneReply();
  // The rest of a deferred copy's successful reply (`rest` bytes): its staging slot, and its bytes
  // from the socket or from that slot, into the Pending's tail.
  Status ReadDeferred(const Pending& pending, std::size_t rest);
  // A successful reply's bulk bytes (exactly tail_size of them) into the Pending's tail, row by row
  // when it has rows.
  Status ReadTail(const Pending& pending);
  // Reads the payload of a DeviceOutput frame and writes its text to stdout.
  CUresult WriteDeviceOutput(const protocol::FrameHeader& header);
  // Writes the batch followed by `parts` in one gather write, then empties the batch. send_mu_ held.
  CUresult WriteLocked(iovec* parts, int count);
  void AppendLocked(const unsigned char* header, const iovec* parts, int count);
  void FlusherLoop();
  // Receive side (recv_mu_ held): reads through rbuf_, bulk bytes straight into their destination.
  Status ReadBuffered(void* dst, std::size_t size);

  protocol::Connection conn_;
  protocol::HelloOk hello_;
  std::unique_ptr<CopyRing> ring_;
  // The deferred staging shared with a worker on this host (protocol/deferred_staging.h), or null.
  std::unique_ptr<SharedRegion> staging_;
  std::unique_ptr<MappedArena> arena_;
  std::atomic<CUresult> broken_{CUDA_SUCCESS};

  std::mutex send_mu_;
  std::uint64_t next_id_ = 0;          // guarded by send_mu_
  std::uint64_t current_context_ = 0;  // guarded by send_mu_
  std::string batch_;                  // guarded by send_mu_: encoded async frames not yet written
  bool batching_ = true;               // guarded by send_mu_
  bool stopping_ = false;              // guarded by send_mu_: the flusher returns
  std::condition_variable batch_cv_;   // signalled when batch_ becomes non-empty
  std::thread flusher_;

  std::mutex recv_mu_;  // held by the thread reading replies
  static constexpr std::size_t kReceiveBuffer = 16u << 10;
  // Rows of a reply shorter than kDirectRow are read kBounceBytes at a time into bounce_ and copied
  // to their places from there: one read per row would cost a system call each.
  static constexpr std::size_t kDirectRow = 64u << 10;
  static constexpr std::size_t kBounceBytes = 256u << 10;
  std::unique_ptr<char[]> bounce_;                          // made when first needed; recv_mu_ held
  std::unique_ptr<char[]> rbuf_{new char[kReceiveBuffer]};  // guarded by recv_mu_
  std::size_t rbegin_ = 0, rend_ = 0;                       // guarded by recv_mu_

  mutable std::mutex pending_mu_;
  std::map<std::uint64_t, Pending*> pending_;  // guarded by pending_mu_
  // The deferred requests' Pending, owned here until their reply is read; guarded by pending_mu_.
  std::map<Pending*, std::unique_ptr<Pending>> owned_;
  // owned_.size(), readable without the lock: every copy asks (AnyDeferred), and almost always
  // none is out.
  std::atomic<std::size_t> owned_count_{0};
  void ForgetOwnedLocked(Pending* pending);  // pending_mu_ held
};

}  // namespace gpupool::client
