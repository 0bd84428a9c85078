// The worker's side of the copy ring (protocol/copy_ring.h): the sealed memfd it shares with a
// client on the same host, and the OpenCopyRing exchange that hands it over; and the same exchange
// for the deferred staging (protocol/deferred_staging.h, kept by DeferredCopies).
//
// Thread-safety: none; the worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/status.h"
#include "remoting/protocol/copy_ring.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/shared_memory.h"

namespace gpupool::server {

class Session;

class CopyRing {
 public:
  static Result<std::unique_ptr<CopyRing>> Create();

  int fd() const { return memory_.fd(); }
  // The bytes of `slot` for a copy of `size` bytes; null when the slot or the size is out of range.
  std::byte* Slot(std::uint32_t slot, std::uint64_t size) const;
  // One more ring frame handled (its outcome does not matter): the client may reuse its slot.
  void Consumed();

 private:
  explicit CopyRing(SharedMemory memory) : memory_(std::move(memory)) {}
  SharedMemory memory_;
};

// Answers an OpenCopyRing frame: creates the session's ring and sends its geometry with the memfd,
// or CUDA_ERROR_NOT_SUPPORTED (no descriptor) when the connection is not a plain Unix socket or a
// ring is already open. An error return ends the session (a failed send, a malformed request).
Status OpenCopyRing(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                    std::string_view payload);

// Answers an OpenDeferredStaging frame: shares the session's deferred staging (deferred_staging.h)
// with its geometry and memfd, or CUDA_ERROR_NOT_SUPPORTED (no descriptor) without a copy ring or
// when it is shared already. An error return ends the session.
Status OpenDeferredStaging(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                           std::string_view payload);

}  // namespace gpupool::server
