// DeferredCopies: the session's device-to-host copies that are answered when the GPU has done them
// (MemcpyDtoHDeferred, Memcpy2DFromDeviceDeferred), not when they are asked for. The worker starts the copy
// into a staging buffer, records an event after it, and goes on serving the session's other calls; the reply
// goes out with the next synchronisation the client asks for once the event has completed (docs/protocol.md,
// "Deferred copies"). So a program that copies results back asynchronously and works on the CPU meanwhile is
// not held up by the copy, and neither are the session's other streams.
//
// Staging: for a client on this host that asked for it, a slot of the deferred staging shared with
// it (protocol/deferred_staging.h, registered with the driver so the GPU writes it directly), and the
// reply names the slot; otherwise, or when no slot is free, a pinned buffer of the worker's, whose
// bytes the reply carries.
//
// Pinned buffers, the registration and events belong to a context: before one is destroyed, Detach
// waits for every copy and keeps its bytes (in ordinary memory, or in its shared slot), so nothing
// outlives the context it was made in.
//
// Thread-safety: none; the session's worker thread.
#pragma once

#include <cuda.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/status.h"
#include "remoting/protocol/deferred_staging.h"
#include "remoting/protocol/frame.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/driver_api.h"
#include "remoting/server/shared_memory.h"

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
  // The same for `height` rows of `width` bytes, `pitch` apart from `src` (Memcpy2DFromDeviceDeferred),
  // packed: width * height at most kChunkSize.
  CUresult StartRows(const protocol::FrameHeader& request, CUdeviceptr src, std::size_t pitch,
                     std::size_t width, std::size_t height, CUstream stream);

  // Waits until the GPU has finished every copy (DeferredCopiesFinish; a call, so the watchdog sees
  // a kernel that never ends).
  void WaitAll();

  // Sends the replies of the copies the GPU has finished. A copy that failed on the GPU is answered
  // with its error, which also goes to *latched when that holds none. An error is a failed send: the
  // session ends.
  Status SendFinished(protocol::Connection& conn, CUresult* latched);

  // Waits for every copy, keeps its bytes where the driver does not own them and frees the pinned
  // buffers, the registration and the events: before a context is destroyed, and at session end.
  void Detach();

  // Shares `staging` (sealed, kStagingBytes) with the client from now on.
  void ShareStaging(SharedMemory staging);
  // The shared staging's memfd, or -1 before ShareStaging.
  int staging_fd() const { return staging_.fd(); }

  std::size_t size() const { return copies_.size(); }

 private:
  struct Copy {
    protocol::FrameHeader request;
    std::size_t size = 0;
    CUevent done = nullptr;       // recorded after the copy; null once finished
    std::byte* pinned = nullptr;  // a pinned buffer of the pool holding the bytes, or
    std::uint32_t slot = 0;       // 1 + the shared staging slot holding them, or
    std::string bytes;            // the bytes in ordinary memory (no staging to be had, or Detach)
    CUresult result = CUDA_SUCCESS;
  };
  // Starts a copy of `size` bytes that `enqueue(target)` puts on `stream` (the driver's asynchronous
  // copy into `target`): Start and StartRows.
  template <typename Enqueue>
  CUresult Begin(const protocol::FrameHeader& request, std::size_t size, CUstream stream, Enqueue enqueue);
  // Where `copy` goes: a free shared slot, else a pinned buffer; null when neither is to be had.
  std::byte* Stage(Copy& copy);
  std::byte* SharedSlot(std::uint32_t slot) const;
  bool RegisterStaging();
  // Whether `copy` has finished (with `wait`, once it has); sets its result.
  bool Finished(Copy& copy, bool wait);
  void DropEvent(Copy& copy);
  void Release(Copy& copy);  // its event and staging, after its reply

  const DriverApi& api_;
  std::deque<Copy> copies_;
  std::vector<std::byte*> free_pinned_;  // pinned buffers of kChunkSize, reused
  SharedMemory staging_;
  bool registered_ = false;                                // staging_ is registered with the driver
  bool register_failed_ = false;                           // ... and cannot be: pinned buffers only
  std::array<bool, protocol::kStagingSlots> slot_used_{};  // by an unanswered copy
};

}  // namespace gpupool::server
