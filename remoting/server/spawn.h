// Child processes of the broker: workers and the inventory child are this same binary, started with
// fork + exec (so no CUDA state, lock or thread of the broker leaks into them) — and the reaper that
// waits for every child and tells the registry when a session's worker is gone.
//
// Thread-safety: SpawnSelf may be called from any thread; one Reaper per process.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "remoting/server/registry.h"

namespace gpupool::server {

// Runs this executable with `args`. `keep_fds` stay open in the child (everything else the broker
// opened is close-on-exec); `stdout_fd`, when not -1, becomes the child's stdout.
Result<pid_t> SpawnSelf(const std::vector<std::string>& args, const std::vector<int>& keep_fds,
                        int stdout_fd = -1);

class Reaper {
 public:
  explicit Reaper(Registry* registry);
  ~Reaper();
  // Wakes the reaper after a new child was started.
  void ChildStarted();

 private:
  void Loop();

  Registry* registry_;
  std::mutex mu_;
  std::condition_variable cv_;
  int children_ = 0;  // started and not yet reaped; guarded by mu_
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gpupool::server
