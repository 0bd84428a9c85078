// The worker's side of the mapped arena (protocol/mapped_arena.h): a sealed memfd mapped at the
// address the client reserved for it, of which the client registers whole pages for the session's
// GPUs (cuMemHostRegister with DEVICEMAP and PORTABLE, so every context of the session reaches them)
// and lets them go again, all within the server's limit on pinned bytes per session.
//
// The driver's device address for a registered range must be its host address, since a kernel gets
// the program's pointer (GPUs that report CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM do this); where it
// is not, the range is let go and the call answers CUDA_ERROR_NOT_SUPPORTED.
//
// Thread-safety: none; the worker thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string_view>

#include "common/status.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/driver_api.h"

namespace gpupool::server {

class Session;

class MappedArena {
 public:
  // The arena mapped at `address`: AlreadyExists when something of the worker's is there already.
  static Result<std::unique_ptr<MappedArena>> Create(std::uint64_t address, std::uint64_t limit);
  ~MappedArena();
  MappedArena(const MappedArena&) = delete;
  MappedArena& operator=(const MappedArena&) = delete;

  int fd() const { return fd_; }
  std::uint64_t limit() const { return limit_; }
  std::uint64_t registered_bytes() const { return registered_bytes_; }

  // Registers [address, address + bytes) for the GPUs: whole pages inside the arena, overlapping no
  // registered range (CUDA_ERROR_INVALID_VALUE), within the limit (CUDA_ERROR_OUT_OF_MEMORY).
  CUresult Register(const DriverApi& api, std::uint64_t address, std::uint64_t bytes);
  // Lets go of the range registered at `address` and gives its pages back: the next range there
  // reads as zeros, as new pinned memory does. CUDA_ERROR_INVALID_VALUE when none starts there.
  CUresult Unregister(const DriverApi& api, std::uint64_t address, std::uint64_t* bytes);
  // Every registered range, at session end.
  void UnregisterAll(const DriverApi& api);

 private:
  MappedArena(int fd, std::uint64_t base, std::uint64_t limit) : fd_(fd), base_(base), limit_(limit) {}

  int fd_;
  std::uint64_t base_;
  std::uint64_t limit_;
  std::uint64_t registered_bytes_ = 0;
  std::map<std::uint64_t, std::uint64_t> registered_;  // start -> bytes
};

// Answers an OpenMappedArena frame: maps the arena where the client asks and passes its memfd, says
// the address is taken, or declines (not a plain Unix socket, no limit, an arena open already). An
// error return ends the session (a failed send, a malformed request).
Status OpenMappedArena(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                       std::string_view payload);

}  // namespace gpupool::server
