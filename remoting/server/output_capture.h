// OutputCapture: the session worker's stdout, where the CUDA driver writes device printf text at
// synchronisations (through stdio), becomes a pipe whose bytes go to the client (DeviceOutput
// frames, docs/protocol.md "Device output") instead of the server's log.
//
// A thread drains the pipe as soon as anything arrives, into a buffer of at most `limit` bytes;
// once it is full, the text is cut back to its last whole line and everything after is read and
// dropped (counted) until the next Take, so the driver's write never blocks, whatever the
// client does (a client that stopped reading, or is gone, cannot stall the worker on the pipe).
// Take() flushes stdio first, then collects what the pipe holds, so everything the driver wrote
// before Take is in what it returns.
//
// Thread-safety: Take from one thread (the dispatch loop); the drain thread is internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace gpupool::server {

class OutputCapture {
 public:
  // Points `fd` (STDOUT_FILENO in a worker, before its driver opens) at a new pipe. `flush` pushes
  // the writer's user-space buffer into `fd` (fflush(stdout)).
  static Result<std::unique_ptr<OutputCapture>> Start(int fd, std::size_t limit, std::function<void()> flush);
  // Points `fd` at /dev/null (later writes, e.g. at exit, vanish instead of blocking) and stops.
  ~OutputCapture();
  OutputCapture(const OutputCapture&) = delete;
  OutputCapture& operator=(const OutputCapture&) = delete;

  // Everything written so far and not taken yet: appended to `text`; `*dropped` is set to the bytes
  // discarded (buffer full) since the last Take.
  void Take(std::string* text, std::uint64_t* dropped);

 private:
  OutputCapture(int fd, int read_fd, int wake_fd, std::size_t limit, std::function<void()> flush);
  void Loop();
  void DrainLocked();  // reads the pipe until it is empty; mu_ held

  const int fd_, read_fd_, wake_fd_;
  const std::size_t limit_;
  const std::function<void()> flush_;
  std::mutex mu_;
  std::string buffer_;         // guarded by mu_
  std::uint64_t dropped_ = 0;  // guarded by mu_
  bool full_ = false;          // guarded by mu_; dropping everything until the next Take
  std::thread thread_;
};

}  // namespace gpupool::server
