// What nodes added through the node API (cuGraphAdd*Node) do when a graph launch reaches them:
// the driver call their parameters describe, made on the launch's stream through the client's own
// entry points, so ordering, capture and errors behave as for the program's calls.
//
// Thread-safety: pure functions; the work they return may run on any thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "remoting/client/graph.h"

namespace gpupool::client {

// A kernel node; its arguments are copied now, as CUDA does.
CUresult KernelWork(const CUDA_KERNEL_NODE_PARAMS& params, NodeWork* out);
// A copy of `launch` carrying `attrs` (cuGraphKernelNodeSetAttribute: instantiated graphs keep
// the launch they copied).
NodeWork KernelWorkWithAttributes(const KernelLaunch& launch, std::vector<CUlaunchAttribute> attrs);
// A memcpy node (linear memory: CUDA arrays are not supported).
CUresult MemcpyWork(const CUDA_MEMCPY3D& params, NodeWork* out);
CUresult MemsetWork(const CUDA_MEMSET_NODE_PARAMS& params, NodeWork* out);
// CU_GRAPH_NODE_TYPE_EVENT_RECORD or CU_GRAPH_NODE_TYPE_WAIT_EVENT.
CUresult EventWork(CUgraphNodeType kind, CUevent event, NodeWork* out);
// A memory alloc node: its allocation is made now, in server context `context` of `device`
// (graph_memory.h), and its address written to the work's alloc.dptr.
CUresult MemAllocWork(const CUDA_MEM_ALLOC_NODE_PARAMS& params, std::uint64_t context, int device,
                      NodeWork* out);
// A memory alloc node in the current context (cuGraphAddMemAllocNode, or cuMemAllocAsync during
// capture); params->dptr gets its address (api_graph_memory.cpp).
CUresult GraphAllocWork(CUDA_MEM_ALLOC_NODE_PARAMS* params, NodeWork* out);
// A memory free node: `ptr` must be graph memory.
CUresult MemFreeWork(CUdeviceptr ptr, NodeWork* out);
// A child-graph node running `child` (the node's own copy).
NodeWork ChildWork(Graph* child);

}  // namespace gpupool::client
