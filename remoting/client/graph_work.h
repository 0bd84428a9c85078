// What a captured operation and a host node do when a graph launch reaches them (graph.h,
// LaunchTarget): the wire call the capture recorded, or the host function, in stream order.
// Node-API nodes: graph_node_work.h.
//
// Thread-safety: pure functions; the work they return may run on any thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <functional>

#include "remoting/client/graph.h"

namespace gpupool::client {

// A captured asynchronous operation, sent on the launch's wire stream.
NodeWork CapturedOpWork(CUgraphNodeType kind, std::function<CUresult(std::uint64_t)> op);
// A host node: `fn(user_data)` in the program's process, in stream order.
NodeWork HostWork(CUhostFn fn, void* user_data);

}  // namespace gpupool::client
