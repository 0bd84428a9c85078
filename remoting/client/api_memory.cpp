// Device memory: allocations live on the server; the client keeps their ranges (State) for
// unified-address copies, cuMemGetAddressRange and cuPointerGetAttribute.
#include "remoting/client/api_support.h"
#include "remoting/client/graph_memory.h"
#include "remoting/client/pools.h"

using namespace gpupool::client;

GPUPOOL_API CUresult cuMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::MemGetInfo>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemGetInfo>(context, {}, &reply));
  *free_bytes = std::get<0>(reply);
  *total_bytes = std::get<1>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemAlloc(CUdeviceptr* dptr, size_t bytes) {
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());
  protocol::Call<Op::MemAlloc>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemAlloc>(context, {bytes}, &reply));
  *dptr = std::get<0>(reply);
  State::Get().AddAllocation(*dptr, bytes);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemAllocPitch(CUdeviceptr* dptr, size_t* pitch, size_t width, size_t height,
                                     unsigned int element_size) {
  if (dptr == nullptr || pitch == nullptr || width == 0 || height == 0) return CUDA_ERROR_INVALID_VALUE;
  if (element_size != 4 && element_size != 8 && element_size != 16) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());
  protocol::Call<Op::MemAllocPitch>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemAllocPitch>(context, {width, height, element_size}, &reply));
  *dptr = std::get<0>(reply);
  *pitch = std::get<1>(reply);
  State::Get().AddAllocation(*dptr, *pitch * height);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemFree(CUdeviceptr dptr) {
  if (dptr == 0) return State::Get().Ready();  // freeing nothing succeeds (cudaFree(nullptr) relies on it)
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());
  DrainFor(context, 0, true);  // synchronising: work held on the client may still use it
  CUresult managed = CUDA_SUCCESS;
  if (ManagedMemory::Get().Free(dptr, &managed)) {
    if (managed == CUDA_SUCCESS) State::Get().RemoveAllocation(dptr);
    return managed;
  }
  if (CUresult freed = CUDA_SUCCESS; FreeImportedPoolPointer(dptr, nullptr, false, &freed)) return freed;
  // Graph memory is freed (and given back once no graph refers to it), never freed twice.
  if (GraphMemory::Get().Contains(dptr))
    return GraphMemory::Get().MarkFreed(dptr) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  (void)Pools::Get().Forget(dptr);  // a block from a pool (cuMemAllocAsync) leaves it
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemFree>(context, {dptr}));
  State::Get().RemoveAllocation(dptr);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemGetAddressRange(CUdeviceptr* base, size_t* bytes, CUdeviceptr dptr) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  // The worker knows a managed allocation's arena, not the allocation.
  CUdeviceptr managed_base = 0;
  std::size_t managed_bytes = 0;
  if (ManagedMemory::Get().Find(dptr, &managed_base, &managed_bytes)) {
    if (base != nullptr) *base = managed_base;
    if (bytes != nullptr) *bytes = managed_bytes;
    return CUDA_SUCCESS;
  }
  protocol::Call<Op::MemGetAddressRange>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemGetAddressRange>(context, {dptr}, &reply));
  if (base != nullptr) *base = std::get<0>(reply);
  if (bytes != nullptr) *bytes = std::get<1>(reply);
  return CUDA_SUCCESS;
}
