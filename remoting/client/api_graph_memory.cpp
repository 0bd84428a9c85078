// Graph memory (graph_memory.h): memory alloc and free nodes, and the device's graph memory
// attributes. Stream-ordered allocation during capture becomes these nodes (api_mem_pool.cpp).
#include "remoting/client/api_support.h"
#include "remoting/client/graph_memory.h"
#include "remoting/client/graph_node_work.h"

using namespace gpupool::client;

namespace gpupool::client {

CUresult GraphAllocWork(CUDA_MEM_ALLOC_NODE_PARAMS* params, NodeWork* out) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(MemAllocWork(*params, context, State::Current()->device, out));
  params->dptr = out->alloc.dptr;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client

namespace {

CUresult AddWork(CUgraphNode* out, CUgraph graph_handle, const CUgraphNode* deps, size_t count,
                 NodeWork work) {
  Graph* graph = FindGraph(graph_handle);
  if (out == nullptr || graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(
      AddNode(graph, reinterpret_cast<const GraphNode* const*>(deps), count, std::move(work), &node));
  *out = reinterpret_cast<CUgraphNode>(node);
  return CUDA_SUCCESS;
}

CUresult CheckDevice(CUdevice device) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return State::Get().device(device) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

}  // namespace

// The allocation is made here, so its address is in params->dptr when the call returns, as in CUDA.
// A failed add gives it back (the work's hold is dropped).
GPUPOOL_API CUresult cuGraphAddMemAllocNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                            size_t count, CUDA_MEM_ALLOC_NODE_PARAMS* params) {
  if (out == nullptr || FindGraph(graph) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  NodeWork work;
  GPUPOOL_CU_RETURN_IF_ERROR(GraphAllocWork(params, &work));
  const CUresult result = AddWork(out, graph, deps, count, std::move(work));
  if (result != CUDA_SUCCESS) params->dptr = 0;
  return result;
}
GPUPOOL_API CUresult cuGraphMemAllocNodeGetParams(CUgraphNode handle, CUDA_MEM_ALLOC_NODE_PARAMS* params) {
  GraphNode* node = FindNode(handle);
  if (node == nullptr || params == nullptr || node->work.type != CU_GRAPH_NODE_TYPE_MEM_ALLOC)
    return CUDA_ERROR_INVALID_VALUE;
  *params = node->work.alloc;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphAddMemFreeNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                           size_t count, CUdeviceptr ptr) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  NodeWork work;
  GPUPOOL_CU_RETURN_IF_ERROR(MemFreeWork(ptr, &work));
  return AddWork(out, graph, deps, count, std::move(work));
}
GPUPOOL_API CUresult cuGraphMemFreeNodeGetParams(CUgraphNode handle, CUdeviceptr* ptr) {
  GraphNode* node = FindNode(handle);
  if (node == nullptr || ptr == nullptr || node->work.type != CU_GRAPH_NODE_TYPE_MEM_FREE)
    return CUDA_ERROR_INVALID_VALUE;
  *ptr = node->work.free_ptr;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceGetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attribute,
                                                  void* value) {
  GPUPOOL_CU_RETURN_IF_ERROR(CheckDevice(device));
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t v = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(GraphMemory::Get().GetAttribute(device, attribute, &v));
  *static_cast<cuuint64_t*>(value) = v;
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuDeviceSetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attribute,
                                                  void* value) {
  GPUPOOL_CU_RETURN_IF_ERROR(CheckDevice(device));
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return GraphMemory::Get().SetAttribute(device, attribute, *static_cast<const cuuint64_t*>(value));
}
// Graph memory is held only while graphs refer to it or it is allocated (graph_memory.h): nothing
// is cached for later graphs, so there is nothing to give back.
GPUPOOL_API CUresult cuDeviceGraphMemTrim(CUdevice device) {
  return CheckDevice(device);
}
