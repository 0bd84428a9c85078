#include "remoting/client/graph_node_work.h"

#include <memory>

#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"
#include "remoting/client/launch_params.h"

namespace gpupool::client {

CUresult KernelWork(const CUDA_KERNEL_NODE_PARAMS& params, NodeWork* out) {
  // CUDA lets a CUkernel go where a CUfunction goes; the client's Function covers both.
  const CUfunction handle = params.func != nullptr ? params.func : reinterpret_cast<CUfunction>(params.kern);
  Function* function = FindFunction(handle);
  if (function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (params.kernelParams != nullptr && params.extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto k = std::make_shared<KernelLaunch>();
  k->function = handle;
  k->kernel = params.kern;
  k->grid[0] = params.gridDimX, k->grid[1] = params.gridDimY, k->grid[2] = params.gridDimZ;
  k->block[0] = params.blockDimX, k->block[1] = params.blockDimY, k->block[2] = params.blockDimZ;
  k->shared = params.sharedMemBytes;
  k->given_as_extra = params.extra != nullptr;
  if (!k->given_as_extra) GPUPOOL_CU_RETURN_IF_ERROR(FetchLayout(function));
  GPUPOOL_CU_RETURN_IF_ERROR(
      PackParams(function->offsets, function->sizes, params.kernelParams, params.extra, &k->bytes));
  if (k->given_as_extra) {
    k->extra_size = k->bytes.size();
    k->extra = {CU_LAUNCH_PARAM_BUFFER_POINTER, k->bytes.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &k->extra_size,
                CU_LAUNCH_PARAM_END};
  } else {
    for (std::uint64_t offset : function->offsets) k->pointers.push_back(k->bytes.data() + offset);
  }
  NodeWork work;
  work.type = CU_GRAPH_NODE_TYPE_KERNEL;
  work.kernel = k;
  work.run = [k](const LaunchTarget& t) {
    void** args = k->given_as_extra || k->pointers.empty() ? nullptr : const_cast<void**>(k->pointers.data());
    void** extra = k->given_as_extra ? const_cast<void**>(k->extra.data()) : nullptr;
    return cuLaunchKernel(k->function, k->grid[0], k->grid[1], k->grid[2], k->block[0], k->block[1],
                          k->block[2], k->shared, t.stream, args, extra);
  };
  *out = std::move(work);
  return CUDA_SUCCESS;
}

CUresult MemcpyWork(const CUDA_MEMCPY3D& params, NodeWork* out) {
  for (CUmemorytype type : {params.srcMemoryType, params.dstMemoryType}) {
    if (type != CU_MEMORYTYPE_HOST && type != CU_MEMORYTYPE_DEVICE && type != CU_MEMORYTYPE_UNIFIED &&
        type != CU_MEMORYTYPE_ARRAY)
      return CUDA_ERROR_INVALID_VALUE;
  }
  NodeWork work;
  work.type = CU_GRAPH_NODE_TYPE_MEMCPY;
  work.memcpy = params;
  work.run = [params](const LaunchTarget& t) { return cuMemcpy3DAsync(&params, t.stream); };
  *out = std::move(work);
  return CUDA_SUCCESS;
}

CUresult MemsetWork(const CUDA_MEMSET_NODE_PARAMS& p, NodeWork* out) {
  if (p.elementSize != 1 && p.elementSize != 2 && p.elementSize != 4) return CUDA_ERROR_INVALID_VALUE;
  if (p.width == 0 || p.height == 0 || p.dst == 0) return CUDA_ERROR_INVALID_VALUE;
  if (p.height > 1 && p.pitch < p.width * p.elementSize) return CUDA_ERROR_INVALID_VALUE;
  NodeWork work;
  work.type = CU_GRAPH_NODE_TYPE_MEMSET;
  work.memset = p;
  work.run = [p](const LaunchTarget& t) {
    const std::size_t pitch = p.height > 1 ? p.pitch : p.width * p.elementSize;
    switch (p.elementSize) {
      case 1:
        return cuMemsetD2D8Async(p.dst, pitch, static_cast<unsigned char>(p.value), p.width, p.height,
                                 t.stream);
      case 2:
        return cuMemsetD2D16Async(p.dst, pitch, static_cast<unsigned short>(p.value), p.width, p.height,
                                  t.stream);
      default: return cuMemsetD2D32Async(p.dst, pitch, p.value, p.width, p.height, t.stream);
    }
  };
  *out = std::move(work);
  return CUDA_SUCCESS;
}

CUresult EventWork(CUgraphNodeType kind, CUevent event, NodeWork* out) {
  if (State::Get().events.Find(event) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  NodeWork work;
  work.type = kind;
  work.event = event;
  if (kind == CU_GRAPH_NODE_TYPE_EVENT_RECORD) {
    work.run = [event](const LaunchTarget& t) { return cuEventRecord(event, t.stream); };
  } else {
    work.run = [event](const LaunchTarget& t) { return cuStreamWaitEvent(t.stream, event, 0); };
  }
  *out = std::move(work);
  return CUDA_SUCCESS;
}

NodeWork ChildWork(Graph* child) {
  NodeWork work;
  work.type = CU_GRAPH_NODE_TYPE_GRAPH;
  work.child = child;
  return work;
}

}  // namespace gpupool::client
