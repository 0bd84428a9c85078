// User objects (cuUserObjectCreate): a program's resource with a reference count and a destructor,
// kept alive by the program's references and by graphs that retain it (cuGraphRetainUserObject).
// An instantiated graph holds its graph's references, and each launch holds them again until the
// launch's work has completed (a host step on the launch's stream, api_graph.cpp), so the
// destructor runs only once nothing can use the resource any more. As in CUDA, the destructor is
// never called from inside the API call that drops the last reference: it runs on a host-function
// worker thread (stream_order.h), where it must not call CUDA.
//
// Thread-safety: safe from any thread. Handles are retired, never reused: a stale handle is an error.
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstdint>

namespace gpupool::client {

struct UserObject {
  void* ptr = nullptr;
  CUhostFn destroy = nullptr;
  std::atomic<std::uint64_t> refs{0};
};

// A new user object holding `count` references (count > 0).
UserObject* CreateUserObject(void* ptr, CUhostFn destroy, unsigned count);
// The live object behind `handle`, or null.
UserObject* FindUserObject(CUuserObject handle);
void RetainUserObject(UserObject* object, unsigned count);
// Drops `count` references. False (nothing dropped) when the object holds fewer. The last one
// retires the handle and queues the destructor.
bool ReleaseUserObject(UserObject* object, unsigned count);

}  // namespace gpupool::client
