// Pinned host memory, entirely on the client (pinned_memory.h): the GPU is remote, so page-locking
// would buy nothing; copies from these buffers go over the socket like any other host memory. Copies
// into them may be deferred (copy_engine.h). Mapped host memory (CU_MEMHOSTALLOC_DEVICEMAP), which
// kernels use through the same pointer, is managed memory under another name (managed_memory.h).
#include "common/log.h"
#include "remoting/client/api_support.h"

using namespace gpupool::client;

namespace {

// cuMemHostAlloc with CU_MEMHOSTALLOC_DEVICEMAP: memory the current context's device reaches too.
CUresult AllocateMapped(void** ptr, std::size_t bytes, unsigned flags) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());
  const Context* current = State::Current();
  const Device* device = State::Get().device(current->device);
  if (device == nullptr || device->attributes[CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY] == 0) {
    GPUPOOL_LOG_ONCE(kWarn, "cuMemHostAlloc mapped")
        << "cuMemHostAlloc with CU_MEMHOSTALLOC_DEVICEMAP: the GPU cannot map memory at chosen addresses "
           "(no virtual memory management); returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  CUdeviceptr mapped = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(
      ManagedMemory::Get().Allocate(context, current->device, bytes, CU_MEM_ATTACH_GLOBAL, &mapped, flags));
  State::Get().AddAllocation(mapped, bytes);
  *ptr = reinterpret_cast<void*>(mapped);
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuMemHostAlloc(void** ptr, size_t bytes, unsigned int flags) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if ((flags & CU_MEMHOSTALLOC_DEVICEMAP) != 0) {
    constexpr unsigned kKnown =
        CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
    if (ptr == nullptr || bytes == 0 || (flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
    return AllocateMapped(ptr, bytes, flags);
  }
  return State::Get().pinned.Allocate(bytes, flags, ptr);
}

GPUPOOL_API CUresult cuMemAllocHost(void** ptr, size_t bytes) {
  return cuMemHostAlloc(ptr, bytes, 0);
}

GPUPOOL_API CUresult cuMemFreeHost(void* ptr) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  // None may land in freed memory. It fails only with the connection, which ends every copy too.
  (void)FinishDeferredCopies();
  const auto mapped = reinterpret_cast<CUdeviceptr>(ptr);
  CUresult freed = CUDA_SUCCESS;
  if (ManagedMemory::Get().Free(mapped, true, &freed)) {
    if (freed == CUDA_SUCCESS) State::Get().RemoveAllocation(mapped);
    return freed;
  }
  return State::Get().pinned.Free(ptr);
}

GPUPOOL_API CUresult cuMemHostRegister(void* ptr, size_t bytes, unsigned int flags) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return State::Get().pinned.Register(ptr, bytes, flags);
}

#undef cuMemHostRegister
GPUPOOL_API CUresult cuMemHostRegister(void* ptr, size_t bytes, unsigned int flags) {
  return cuMemHostRegister_v2(ptr, bytes, flags);
}

GPUPOOL_API CUresult cuMemHostUnregister(void* ptr) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  (void)FinishDeferredCopies();  // the program may free the memory next (as in cuMemFreeHost)
  return State::Get().pinned.Unregister(ptr);
}

GPUPOOL_API CUresult cuMemHostGetFlags(unsigned int* flags, void* ptr) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (ManagedMemory::Get().MappedHost(reinterpret_cast<std::uintptr_t>(ptr), flags)) return CUDA_SUCCESS;
  return State::Get().pinned.Find(ptr, flags) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// Mapped host memory has one address on both sides (unified addressing). Other pinned memory, and
// memory registered with CU_MEMHOSTREGISTER_DEVICEMAP, stays in this process, where a GPU on another
// machine cannot reach it.
GPUPOOL_API CUresult cuMemHostGetDevicePointer(CUdeviceptr* device, void* ptr, unsigned int flags) {
  if (device == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (ManagedMemory::Get().MappedHost(reinterpret_cast<std::uintptr_t>(ptr), nullptr)) {
    *device = reinterpret_cast<CUdeviceptr>(ptr);
    return CUDA_SUCCESS;
  }
  if (!State::Get().pinned.Find(ptr, nullptr)) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_LOG_ONCE(kWarn, "cuMemHostGetDevicePointer")
      << "cuMemHostGetDevicePointer: only memory from cuMemHostAlloc with CU_MEMHOSTALLOC_DEVICEMAP is "
         "mapped "
         "through gpupool (registered host memory is not supported); returning CUDA_ERROR_NOT_SUPPORTED";
  return CUDA_ERROR_NOT_SUPPORTED;
}
