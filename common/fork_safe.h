// Mutexes that stay usable in the child of fork(). A child inherits every mutex in the state it had
// at the fork, but only the forking thread: a mutex another thread held then is never released in
// the child, whose first use of it blocks for ever. Programs that use gpupool's client fork
// (Python's multiprocessing, PyTorch's data loader workers), and the child may log or call CUDA.
//
// A mutex given to HoldAcrossFork is taken just before fork() and released after it in both the
// parent and the child, so the child finds it free and the data it guards whole. Only leaf locks
// qualify: held briefly (fork() waits for them) and never while taking another lock, so fork() cannot
// deadlock whatever the order it takes them in. Other pthread_atfork child handlers may run before
// they are released: such a handler must not log.
//
// Thread-safety: HoldAcrossFork may be called from any thread.
#pragma once

#include <mutex>

namespace gpupool {

// `mu` must live until the process ends (a static or a never-destroyed object's member).
void HoldAcrossFork(std::mutex* mu);

}  // namespace gpupool
