#include "remoting/client/graph_node_work.h"

#include <memory>

#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"
#include "remoting/client/graph_memory.h"
#include "remoting/client/launch_params.h"

namespace gpupool::client {

namespace {

// The node's launch: cuLaunchKernel, or cuLaunchKernelEx when the node carries attributes (the
// path a program's own cuLaunchKernelEx takes, so the server applies them the same way).
NodeWork LaunchWork(std::shared_ptr<const KernelLaunch> k) {
  NodeWork work;
  work.type = CU_GRAPH_NODE_TYPE_KERNEL;
  work.kernel = std::const_pointer_cast<KernelLaunch>(k);
  work.run = [k](const LaunchTarget& t) {
    void** args = k->given_as_extra || k->pointers.empty() ? nullptr : const_cast<void**>(k->pointers.data());
    void** extra = k->given_as_extra ? const_cast<void**>(k->extra.data()) : nullptr;
    if (k->attrs.empty()) {
      return cuLaunchKernel(k->function, k->grid[0], k->grid[1], k->grid[2], k->block[0], k->block[1],
                            k->block[2], k->shared, t.stream, args, extra);
    }
    CUlaunchConfig config{};
    config.gridDimX = k->grid[0], config.gridDimY = k->grid[1], config.gridDimZ = k->grid[2];
    config.blockDimX = k->block[0], config.blockDimY = k->block[1], config.blockDimZ = k->block[2];
    config.sharedMemBytes = k->shared;
    config.hStream = t.stream;
    config.attrs = const_cast<CUlaunchAttribute*>(k->attrs.data());
    config.numAttrs = static_cast<unsigned>(k->attrs.size());
    return cuLaunchKernelEx(&config, k->function, args, extra);
  };
  return work;
}

// Points a launch's argument pointers into its own `bytes` (after a copy they point into the
// original's).
void Repoint(const KernelLaunch& from, KernelLaunch* to) {
  const char* old_base = from.bytes.data();
  char* base = to->bytes.data();
  for (void*& p : to->pointers) p = base + (static_cast<const char*>(p) - old_base);
  if (to->given_as_extra) {
    to->extra = {CU_LAUNCH_PARAM_BUFFER_POINTER, base, CU_LAUNCH_PARAM_BUFFER_SIZE, &to->extra_size,
                 CU_LAUNCH_PARAM_END};
  }
}

}  // namespace

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
  *out = LaunchWork(std::move(k));
  return CUDA_SUCCESS;
}

NodeWork KernelWorkWithAttributes(const KernelLaunch& launch, std::vector<CUlaunchAttribute> attrs) {
  auto k = std::make_shared<KernelLaunch>(launch);
  Repoint(launch, k.get());
  k->attrs = std::move(attrs);
  return LaunchWork(std::move(k));
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

CUresult MemAllocWork(const CUDA_MEM_ALLOC_NODE_PARAMS& params, std::uint64_t context, int device,
                      NodeWork* out) {
  const CUmemPoolProps& pool = params.poolProps;
  if (params.bytesize == 0 || pool.allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
      pool.location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
      (params.accessDescCount > 0 && params.accessDescs == nullptr))
    return CUDA_ERROR_INVALID_VALUE;
  if (pool.location.id != device || pool.handleTypes != CU_MEM_HANDLE_TYPE_NONE) {
    GPUPOOL_LOG_ONCE(kWarn, "graph memory on another device or exportable")
        << "memory alloc nodes for another device than the current context's, or with exportable handle "
           "types, are not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  for (std::size_t i = 0; i < params.accessDescCount; ++i) {
    const CUmemAccessDesc& access = params.accessDescs[i];
    // The allocating device always has read-write access; peer access is not remoted.
    if (access.location.type != CU_MEM_LOCATION_TYPE_DEVICE || access.location.id != device) {
      GPUPOOL_LOG_ONCE(kWarn, "graph memory peer access")
          << "peer access to graph memory is not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
      return CUDA_ERROR_NOT_SUPPORTED;
    }
  }
  NodeWork work;
  work.type = CU_GRAPH_NODE_TYPE_MEM_ALLOC;
  work.alloc = params;
  work.alloc.accessDescs = nullptr;  // the program's array need not outlive the call
  work.alloc.accessDescCount = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(
      GraphMemory::Get().Allocate(context, device, params.bytesize, &work.alloc.dptr, &work.allocation));
  const CUdeviceptr ptr = work.alloc.dptr;
  work.run = [ptr](const LaunchTarget&) {
    GraphMemory::Get().MarkAllocated(ptr);  // the memory is the server's since the node was made
    return CUDA_SUCCESS;
  };
  *out = std::move(work);
  return CUDA_SUCCESS;
}

CUresult MemFreeWork(CUdeviceptr ptr, NodeWork* out) {
  if (!GraphMemory::Get().Contains(ptr)) return CUDA_ERROR_INVALID_VALUE;  // graph memory only
  NodeWork work;
  work.type = CU_GRAPH_NODE_TYPE_MEM_FREE;
  work.free_ptr = ptr;
  work.run = [ptr](const LaunchTarget&) {
    return GraphMemory::Get().MarkFreed(ptr) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  };
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
