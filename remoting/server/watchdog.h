// Watchdog: ends a session whose kernel has been running longer than --kernel-timeout (a hang, or a
// kernel far longer than the server allows). A thread of the session's worker looks at the oldest
// running kernel (KernelClock) a few times per limit; past the limit it ends the session:
//   - the session's thread is inside a call (typically waiting in the driver for that kernel): the
//     watchdog sends the client an Error frame saying why and exits the worker at once; the driver
//     frees the session's memory and kills its work with the process;
//   - the session's thread is between calls (reading the next frame): the watchdog wakes it, and it
//     sends the Error frame and exits the same way. If it has not done so within kGrace, the watchdog
//     exits the worker itself.
// Other sessions are separate processes and carry on. With no limit (0) the thread only collects
// finished kernels, so that busy-time metrics stay current while the session waits or idles.
//
// Thread-safety: EnterCall/LeaveCall/fired from the session's thread; the rest runs on the
// watchdog's own thread. A mutex makes "inside a call" and the watchdog's send exclusive, so its
// Error frame never interleaves with a reply.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "remoting/protocol/transport.h"
#include "remoting/server/kernel_clock.h"

namespace gpupool::server {

class Watchdog {
 public:
  static constexpr int kExitCode = 3;  // the worker's exit status after a watchdog kill
  static constexpr std::chrono::seconds kGrace{2};

  // `limit` 0: never fires, only collects. One clock per GPU of the session.
  Watchdog(std::chrono::milliseconds limit, std::vector<KernelClock*> clocks, protocol::Connection* conn);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void EnterCall();
  void LeaveCall();
  // The watchdog ended the session while its thread was between calls: send `reason()` and exit.
  bool fired() const { return fired_.load(); }
  std::string reason() const;

 private:
  void Loop();
  void Fire(std::uint64_t running_ns);

  std::chrono::milliseconds limit_;
  std::vector<KernelClock*> clocks_;
  protocol::Connection* conn_;
  std::mutex call_mu_;  // guards in_call_ and the Error frame
  bool in_call_ = false;
  std::atomic<bool> fired_{false};
  std::string reason_;  // written before fired_ is set
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gpupool::server
