// Pinned host memory, entirely on the client (pinned_memory.h): the GPU is remote, so page-locking
// would buy nothing; copies from these buffers go over the socket like any other host memory. Copies
// into them may be deferred (copy_engine.h).
#include "common/log.h"
#include "remoting/client/api_support.h"

using namespace gpupool::client;

GPUPOOL_API CUresult cuMemHostAlloc(void** ptr, size_t bytes, unsigned int flags) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return State::Get().pinned.Allocate(bytes, flags, ptr);
}

GPUPOOL_API CUresult cuMemAllocHost(void** ptr, size_t bytes) {
  return cuMemHostAlloc(ptr, bytes, 0);
}

GPUPOOL_API CUresult cuMemFreeHost(void* ptr) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  // None may land in freed memory. It fails only with the connection, which ends every copy too.
  (void)FinishDeferredCopies();
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
  return State::Get().pinned.Find(ptr, flags) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// Mapped host memory would have to be reachable from a GPU on another machine.
GPUPOOL_API CUresult cuMemHostGetDevicePointer(CUdeviceptr*, void*, unsigned int) {
  GPUPOOL_LOG_ONCE(kWarn, "cuMemHostGetDevicePointer")
      << "mapped host memory (cuMemHostGetDevicePointer) is not "
         "supported by gpupool";
  return CUDA_ERROR_NOT_SUPPORTED;
}
