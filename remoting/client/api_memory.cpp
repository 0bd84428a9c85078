// Device memory: allocations live on the server; the client keeps their ranges (State) for
// unified-address copies, cuMemGetAddressRange and cuPointerGetAttribute.
#include "common/log.h"
#include "remoting/client/api_support.h"

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
  protocol::Call<Op::MemAllocPitch>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemAllocPitch>(context, {width, height, element_size}, &reply));
  *dptr = std::get<0>(reply);
  *pitch = std::get<1>(reply);
  State::Get().AddAllocation(*dptr, *pitch * height);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemFree(CUdeviceptr dptr) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemFree>(context, {dptr}));
  State::Get().RemoveAllocation(dptr);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemGetAddressRange(CUdeviceptr* base, size_t* bytes, CUdeviceptr dptr) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::MemGetAddressRange>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemGetAddressRange>(context, {dptr}, &reply));
  if (base != nullptr) *base = std::get<0>(reply);
  if (bytes != nullptr) *bytes = std::get<1>(reply);
  return CUDA_SUCCESS;
}

// The attributes programs ask to tell host from device memory; others are not supported.
GPUPOOL_API CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  State& state = State::Get();
  CUdeviceptr base = 0;
  std::size_t bytes = 0;
  const bool device = state.FindAllocation(ptr, &base, &bytes);
  const bool host = !device && state.pinned.Find(reinterpret_cast<const void*>(ptr), nullptr);
  if (!device && !host) return CUDA_ERROR_INVALID_VALUE;
  Context* current = State::Current();
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      *static_cast<unsigned*>(data) = device ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      if (!device) return CUDA_ERROR_INVALID_VALUE;
      *static_cast<CUdeviceptr*>(data) = ptr;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
      if (!device) return CUDA_ERROR_INVALID_VALUE;
      *static_cast<CUdeviceptr*>(data) = base;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
      if (!device) return CUDA_ERROR_INVALID_VALUE;
      *static_cast<size_t*>(data) = bytes;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
      *static_cast<int*>(data) = current != nullptr ? current->device : 0;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: *static_cast<unsigned*>(data) = 0; return CUDA_SUCCESS;
    default:
      GPUPOOL_LOG_ONCE(kWarn, "cuPointerGetAttribute")
          << "cuPointerGetAttribute(" << attribute << ") is not supported";
      return CUDA_ERROR_NOT_SUPPORTED;
  }
}
