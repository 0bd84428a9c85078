// DeferredCopies: the session's device-to-host copies that are answered when the GPU has done them
// (MemcpyDtoHDeferred), not when they are asked for. The worker starts the copy into a pinned staging
// buffer, records an event after it, and goes on serving the session's other calls; the reply, with
// the staged bytes, goes out with the next synchronisation the client asks for once the event has
// completed (docs/protocol.md, "Deferred copies"). So a program that copies results back
// asynchronously and works on the CPU meanwhile is not held up by the copy, and neither are the
// session's launches on other streams.
//
// Pinned staging and events belong to a context: before one is destroyed, Detach waits for every copy
// and keeps its bytes in ordinary memory, so nothing outlives the context it was made in.
//
// Thread-safety: none; the session's worker thread.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/status.h"
#include "remoting/protocol/frame.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/driver_api.h"

namespace gpupool::server {

class DeferredCopies {
 public:
  explicit DeferredCopies(const DriverApi& api) : api_(api) {}
  ~DeferredCopies();
  DeferredCopies(const DeferredCopies&) = delete;
  DeferredCopies& operator=(const DeferredCopies&) = delete;

  // Starts copying `size` (at most kChunkSize) bytes from device address `src` on `stream`, to be
  // answered as `request`. CUDA_ERROR_OUT_OF_MEMORY when kMaxDeferredCopies are unanswered; the
  // driver's error when the copy cannot be started. The range is the caller's to check.
  CUresult Start(const protocol::FrameHeader& request, CUdeviceptr src, std::size_t size, CUstream stream);

  // Sends the replies of the copies the GPU has finished (with `wait`, of all of them, waiting first).
  // A copy that failed on the GPU is answered with its error, which also goes to *latched when that
  // holds none. An error is a failed send: the session ends.
  Status SendFinished(protocol::Connection& conn, bool wait, CUresult* latched);

  // Waits for every copy, keeps its bytes in ordinary memory and frees the staging buffers and
  // events: before a context is destroyed (they may belong to it), and at session end.
  void Detach();

  std::size_t size() const { return copies_.size(); }

 private:
  struct Copy {
    protocol::FrameHeader request;
    std::size_t size = 0;
    CUevent done = nullptr;       // recorded after the copy; null once finished
    std::byte* pinned = nullptr;  // the staging buffer while the copy runs
    std::string bytes;            // the staged bytes once moved out of pinned memory (Detach)
    CUresult result = CUDA_SUCCESS;
  };
  // Whether `copy` has finished (with `wait`, once it has); sets its result.
  bool Finished(Copy& copy, bool wait);
  void Release(Copy& copy);  // its event and staging buffer
  std::byte* TakeStaging();

  const DriverApi& api_;
  std::deque<Copy> copies_;
  std::vector<std::byte*> free_staging_;  // pinned buffers of kChunkSize, reused
};

}  // namespace gpupool::server
