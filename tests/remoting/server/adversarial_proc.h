// /proc readings for the adversarial test: a process's children (zombies included), open fds and
// resident memory.
//
// Thread-safety: free functions.
#pragma once

#include <sys/types.h>

#include <chrono>

namespace gpupool::testing {

struct ProcUsage {
  int fds = 0;
  long rss_kib = 0;
};

// Pids in /proc whose parent is `parent`, in any state (a zombie counts: it was not reaped).
int CountChildren(pid_t parent);
// Waits until CountChildren(parent) is 0; false after `timeout`.
bool WaitForNoChildren(pid_t parent, std::chrono::milliseconds timeout);
ProcUsage Usage(pid_t pid);

}  // namespace gpupool::testing
