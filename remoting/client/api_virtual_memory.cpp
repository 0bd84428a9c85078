// Virtual memory management: physical allocations, address reservations and mappings live on the
// server (docs/protocol.md, "Virtual memory management"); the client keeps the mapped ranges with its
// allocations (State), so unified-address copies and pointer queries know them as device memory.
//
// Only device memory on the server's GPUs can be made. Memory that would have to be shared with
// another process (exportable handle types other than a POSIX file descriptor, which is asked for
// but never exported), host memory and compressible or tile-pool memory answer
// CUDA_ERROR_NOT_SUPPORTED, logged once by what was asked.
#include <unistd.h>

#include "remoting/client/api_support.h"

using namespace gpupool::client;

namespace {

CUresult NotSupported(const char* what) {
  GPUPOOL_LOG_ONCE(kWarn, what) << what << " is not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
  return CUDA_ERROR_NOT_SUPPORTED;
}

// Device memory on one of the server's GPUs, as gpupool can make it.
CUresult CheckDeviceMemoryProp(const CUmemAllocationProp* prop) {
  if (prop == nullptr || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
  if (prop->location.type == CU_MEM_LOCATION_TYPE_HOST ||
      prop->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA)
    return NotSupported("cuMemCreate of host memory");
  if (prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  return FindDevice(prop->location.id, &device);
}

// Before a call that changes what memory is reachable (synchronising in CUDA): the work the client
// still holds for the current context, which may use that memory, is sent first.
void SendHeldWork() {
  std::uint64_t context = 0;
  if (State::Get().CurrentId(&context) == CUDA_SUCCESS) State::Get().order.DrainContext(context, false);
}

}  // namespace

GPUPOOL_API CUresult cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                                   CUmemAllocationGranularity_flags option) {
  if (granularity == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM && option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)
    return CUDA_ERROR_INVALID_VALUE;
  // Host memory cannot be made (cuMemCreate says so), but its granularity is asked first: NCCL probes
  // host allocations this way and falls back to shared memory only when the allocation fails.
  if (prop != nullptr && prop->type == CU_MEM_ALLOCATION_TYPE_PINNED &&
      (prop->location.type == CU_MEM_LOCATION_TYPE_HOST ||
       prop->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA)) {
    GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
    *granularity = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return CUDA_SUCCESS;
  }
  GPUPOOL_CU_RETURN_IF_ERROR(CheckDeviceMemoryProp(prop));
  protocol::Call<Op::MemGetAllocationGranularity>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemGetAllocationGranularity>(
      0, {prop->location.id, static_cast<std::uint32_t>(option)}, &reply));
  *granularity = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                 const CUmemAllocationProp* prop, unsigned long long flags) {
  if (handle == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(CheckDeviceMemoryProp(prop));
  if ((prop->requestedHandleTypes & ~CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) != 0)
    return NotSupported("cuMemCreate with exportable handles other than POSIX file descriptors");
  if (prop->allocFlags.compressionType != 0) return NotSupported("cuMemCreate of compressible memory");
  if ((prop->allocFlags.usage & CU_MEM_CREATE_USAGE_TILE_POOL) != 0)
    return NotSupported("cuMemCreate of a tile pool for sparse arrays");
  GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());
  protocol::Call<Op::MemCreate>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemCreate>(
      0, {size, prop->location.id, static_cast<std::uint32_t>(prop->requestedHandleTypes)}, &reply));
  *handle = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return Rpc<Op::MemRelease>(0, {handle});
}

GPUPOOL_API CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  protocol::Call<Op::MemRetainAllocationHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::MemRetainAllocationHandle>(0, {reinterpret_cast<std::uintptr_t>(addr)}, &reply));
  *handle = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                            CUmemGenericAllocationHandle handle) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  protocol::Call<Op::MemGetAllocationPropertiesFromHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemGetAllocationPropertiesFromHandle>(0, {handle}, &reply));
  *prop = CUmemAllocationProp{};
  prop->type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop->location.id = std::get<0>(reply);
  prop->requestedHandleTypes = static_cast<CUmemAllocationHandleType>(std::get<1>(reply));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                         unsigned long long flags) {
  if (ptr == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  protocol::Call<Op::MemAddressReserve>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemAddressReserve>(0, {size, alignment, addr}, &reply));
  *ptr = std::get<0>(reply);
  State::Get().AddReservation(*ptr, size);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  SendHeldWork();  // mappings still inside go with the range
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemAddressFree>(0, {ptr, size}));
  State::Get().RemoveAllocationsIn(ptr, size);
  State::Get().RemoveReservation(ptr);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                              CUmemGenericAllocationHandle handle, unsigned long long flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemMap>(0, {ptr, size, offset, handle}));
  State::Get().AddAllocation(ptr, size);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  SendHeldWork();
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemUnmap>(0, {ptr, size}));
  State::Get().RemoveAllocationsIn(ptr, size);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  std::vector<std::int32_t> devices, flags;
  for (std::size_t i = 0; i < count; ++i) {
    if (desc[i].location.type == CU_MEM_LOCATION_TYPE_HOST ||
        desc[i].location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA)
      return NotSupported("cuMemSetAccess for host access");
    if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
    devices.push_back(desc[i].location.id);
    flags.push_back(static_cast<std::int32_t>(desc[i].flags));
  }
  SendHeldWork();
  return Rpc<Op::MemSetAccess>(0, {ptr, size, devices, flags});
}

GPUPOOL_API CUresult cuMemGetAccess(unsigned long long* flags, const CUmemLocation* location,
                                    CUdeviceptr ptr) {
  if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (location->type == CU_MEM_LOCATION_TYPE_HOST || location->type == CU_MEM_LOCATION_TYPE_HOST_NUMA) {
    *flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;  // the program's host never reaches the server's memory
    return CUDA_SUCCESS;
  }
  if (location->type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  protocol::Call<Op::MemGetAccess>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemGetAccess>(0, {ptr, location->id}, &reply));
  *flags = std::get<0>(reply);
  return CUDA_SUCCESS;
}
