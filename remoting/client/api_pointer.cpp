// Pointer attributes, answered from the client's tables: device allocations (and module globals)
// are device memory, managed allocations device memory with the same host address, pinned host
// buffers are host memory (with a device address, the same, when mapped), anything else is unknown
// to CUDA.
#include <cstring>

#include "common/log.h"
#include "remoting/client/api_support.h"

using namespace gpupool::client;

namespace {

struct PointerInfo {
  bool device = false;
  bool host = false;
  CUdeviceptr base = 0;  // the allocation, or the mapping of virtual memory
  std::size_t bytes = 0;
  CUdeviceptr range_base = 0;  // the allocation, or the reservation the mapping is in
  std::size_t range_bytes = 0;
  bool mapped = false;       // virtual memory: a mapping in a reservation
  bool managed = false;      // managed memory: the same address on the host
  bool mapped_host = false;  // pinned memory the GPUs reach at the same address (mapped_arena.h)
};

PointerInfo Classify(CUdeviceptr ptr) {
  PointerInfo info;
  info.device = State::Get().FindAllocation(ptr, &info.base, &info.bytes);
  info.mapped = info.device && State::Get().FindReservation(ptr, &info.range_base, &info.range_bytes);
  if (!info.mapped) {
    info.range_base = info.base;
    info.range_bytes = info.bytes;
  }
  info.host = !info.device &&
              State::Get().pinned.Find(reinterpret_cast<const void*>(ptr), nullptr, &info.mapped_host);
  info.managed = info.device && ManagedMemory::Get().Find(ptr, nullptr, nullptr);
  return info;
}

template <typename T>
CUresult Put(void* data, T value) {
  std::memcpy(data, &value, sizeof value);
  return CUDA_SUCCESS;
}

// A mapping's access from `device`, as cuMemSetAccess left it (the worker keeps it): CUmemAccess_flags
// and the pointer attribute's flags share their values.
CUresult MappingAccess(CUdeviceptr ptr, int device, void* data) {
  static_assert(int{CU_MEM_ACCESS_FLAGS_PROT_NONE} == int{CU_POINTER_ATTRIBUTE_ACCESS_FLAG_NONE} &&
                int{CU_MEM_ACCESS_FLAGS_PROT_READ} == int{CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READ} &&
                int{CU_MEM_ACCESS_FLAGS_PROT_READWRITE} == int{CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE});
  protocol::Call<Op::MemGetAccess>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemGetAccess>(0, {ptr, device}, &reply));
  return Put<unsigned>(data, static_cast<unsigned>(std::get<0>(reply)));
}

// One attribute of a pointer the tables know, or of an unknown one (the plural API's defaults).
CUresult Attribute(const PointerInfo& info, CUpointer_attribute attribute, CUdeviceptr ptr, void* data) {
  const bool known = info.device || info.host;
  Context* current = State::Current();
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
      return Put<CUcontext>(data, known ? reinterpret_cast<CUcontext>(current) : nullptr);
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      return Put<unsigned>(data, info.device ? unsigned{CU_MEMORYTYPE_DEVICE}
                                 : info.host ? unsigned{CU_MEMORYTYPE_HOST}
                                             : 0u);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      return Put<CUdeviceptr>(data, info.device || info.mapped_host ? ptr : 0);
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      return Put<void*>(data, info.host || info.managed ? reinterpret_cast<void*>(ptr) : nullptr);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
      return Put<unsigned long long>(data, info.device ? info.base : 0);
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: return Put<unsigned>(data, info.managed ? 1 : 0);
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
      return Put<unsigned>(data, info.device && LegacyIpcCapable(ptr) ? 1 : 0);
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
      return Put<unsigned>(data, info.device && State::Get().SyncMemops(ptr));
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: return Put<unsigned>(data, 0);
    case CU_POINTER_ATTRIBUTE_MAPPED: return Put<unsigned>(data, info.device || info.mapped_host ? 1 : 0);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
      return Put<int>(data, known && current != nullptr ? current->device : -2);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return Put<CUdeviceptr>(data, info.range_base);
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: return Put<CUdeviceptr>(data, info.base);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return Put<std::size_t>(data, info.range_bytes);
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: return Put<std::size_t>(data, info.bytes);
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: return Put<unsigned long long>(data, 0);
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
      if (info.mapped && current != nullptr) return MappingAccess(ptr, current->device, data);
      return Put<unsigned>(data, info.device ? unsigned{CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE} : 0u);
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: return Put<void*>(data, nullptr);
    default:
      GPUPOOL_LOG_ONCE(kWarn, "cuPointerGetAttribute")
          << "pointer attribute " << attribute << " is not supported";
      return CUDA_ERROR_NOT_SUPPORTED;
  }
}

}  // namespace

// Only CU_POINTER_ATTRIBUTE_SYNC_MEMOPS can be set, on device memory (an unsigned int, 0 or not), as in
// CUDA. The server's driver then completes its synchronous copies of the allocation before they
// return, and the client waits for the synchronous memsets it otherwise sends without a reply
// (api_memset.cpp). MPI libraries set it on the buffers they share with other processes.
GPUPOOL_API CUresult cuPointerSetAttribute(const void* value, CUpointer_attribute attribute,
                                           CUdeviceptr ptr) {
  if (value == nullptr || attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  if (!State::Get().FindAllocation(ptr, nullptr, nullptr)) return CUDA_ERROR_INVALID_VALUE;
  unsigned on = 0;
  std::memcpy(&on, value, sizeof on);
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::PointerSetSyncMemops>(context, {ptr, on}));
  (void)State::Get().SetSyncMemops(ptr, on != 0);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  const PointerInfo info = Classify(ptr);
  if (!info.device && !info.host) return CUDA_ERROR_INVALID_VALUE;
  return Attribute(info, attribute, ptr, data);
}

// Unlike the singular call, an unknown pointer is not an error: its attributes read as defaults.
GPUPOOL_API CUresult cuPointerGetAttributes(unsigned int count, CUpointer_attribute* attributes, void** data,
                                            CUdeviceptr ptr) {
  if (count > 0 && (attributes == nullptr || data == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  const PointerInfo info = Classify(ptr);
  for (unsigned i = 0; i < count; ++i) {
    if (data[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
    GPUPOOL_CU_RETURN_IF_ERROR(Attribute(info, attributes[i], ptr, data[i]));
  }
  return CUDA_SUCCESS;
}
