// Session: the client's one connection to its gpupool-server, shared by all of the program's threads.
//
// Requests go out in the order the program made them (one send lock); replies come back in request
// order and are read by whichever thread is waiting (one receive lock): a waiter reads frames until
// its own reply has arrived, handing earlier replies to their waiters. A reply's bulk bytes
// (device-to-host data) are read straight into the destination the caller registered.
// Asynchronous calls (kAsync) are sent with kFlagNoReply and never waited for; the server latches
// their errors and reports them at the next synchronising call.
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
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "remoting/client/server_address.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/transport.h"

namespace gpupool::client {

// One outstanding synchronous request.
struct Pending {
  bool done = false;
  CUresult result = CUDA_SUCCESS;
  std::string fields;         // the encoded reply fields (result == CUDA_SUCCESS)
  void* tail = nullptr;       // kReplyTail: where the bulk bytes go
  std::size_t tail_size = 0;  // ... and how many are expected
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> Open(const ServerAddress& address);
  ~Session();

  const protocol::HelloOk& hello() const { return hello_; }

  // Sends one request. `context` (a server context id, 0 for none) is made current on the server
  // first when it is not already. `pending` is null for kAsync calls.
  CUresult Send(std::uint16_t opcode, bool no_reply, std::uint64_t context, const std::string& args,
                const iovec* tail, int tail_count, Pending* pending);
  // Waits until `pending`'s reply has been read.
  CUresult Wait(Pending* pending);

  // Drops the connection without a goodbye (after fork, in the child: the parent keeps it).
  void Abandon();
  bool broken() const { return broken_.load() != CUDA_SUCCESS; }

 private:
  explicit Session(protocol::Connection conn) : conn_(std::move(conn)) {}
  CUresult Fail(const std::string& why);
  CUresult ReadOneReply();

  protocol::Connection conn_;
  protocol::HelloOk hello_;
  std::atomic<CUresult> broken_{CUDA_SUCCESS};

  std::mutex send_mu_;
  std::uint64_t next_id_ = 0;          // guarded by send_mu_
  std::uint64_t current_context_ = 0;  // guarded by send_mu_

  std::mutex recv_mu_;  // held by the thread reading replies

  std::mutex pending_mu_;
  std::map<std::uint64_t, Pending*> pending_;  // guarded by pending_mu_
};

}  // namespace gpupool::client
