// Host functions: cuLaunchHostFunc, cuStreamAddCallback and graph host nodes run in the program's
// process, in stream order (stream_order.h). Each is a host step on its stream's worker thread:
// record an event on the stream and synchronise with it on the server (everything issued before
// has run), then call the function with the stream's context current. Until it returns, the
// stream's later work stays queued on the client, so the GPU cannot start it.
//
// Errors: a host function (cuLaunchHostFunc) is not called when the stream's work failed; a stream
// callback (cuStreamAddCallback) is called with the error. Either way the error is latched and
// returned by the program's next synchronising call.
//
// Thread-safety: safe from any thread.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace gpupool::client {

struct Context;

struct HostCall {
  CUhostFn fn = nullptr;                // cuLaunchHostFunc / host node
  CUstreamCallback callback = nullptr;  // cuStreamAddCallback (gets the stream and the status)
  CUstream stream = nullptr;            // the program's handle, passed to `callback`
  void* user_data = nullptr;
};

// Queues `call` on `stream` (wire id `wire` in server context `context`): recorded as a host node
// while the stream is captured, else a host step.
CUresult LaunchHost(CUstream stream, Context* context, std::uint64_t context_id, std::uint64_t wire,
                    const HostCall& call);

}  // namespace gpupool::client
