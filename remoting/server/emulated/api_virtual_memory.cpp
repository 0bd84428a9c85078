// Virtual memory management (cuMemCreate, cuMemAddressReserve, cuMemMap, cuMemSetAccess, ...): the
// arguments checked as cuda.h documents them, the work done by VirtualMemory (virtual_memory.h).
// Like CUDA's, these calls need cuInit but no current context: allocations and reservations belong to
// no context, and live until released (or the process ends).
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <iterator>

#include "remoting/server/emulated/api.h"

namespace gpupool::server::emulated {
namespace {

constexpr std::uint64_t kGranularity = VirtualMemory::kGranularity;

VirtualMemory& Vmm() {
  return GetState().virtual_memory;
}

bool Granular(std::uint64_t value) {
  return value % kGranularity == 0;
}

// A device location: CUDA_ERROR_INVALID_DEVICE unless it names a device of this process.
CUresult CheckDeviceLocation(const CUmemLocation& location) {
  if (location.type != CU_MEM_LOCATION_TYPE_DEVICE || !ValidDevice(location.id))
    return CUDA_ERROR_INVALID_DEVICE;
  return CUDA_SUCCESS;
}

// What granularity queries and creation share: pinned memory on one of the devices.
CUresult CheckPlacement(const CUmemAllocationProp& prop) {
  if (prop.type != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
  if (prop.location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  return ValidDevice(prop.location.id) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

// The rest of cuMemCreate's properties: handle types only for a POSIX file descriptor (no fabric or
// Windows here), no tile pools or decompression buffers (an H200 has neither sparse-array tiling in
// this emulator nor a decompression engine). Compression and the RDMA flag are kept as asked.
CUresult CheckCreation(const CUmemAllocationProp& prop) {
  if (CUresult r = CheckPlacement(prop); r != CUDA_SUCCESS) return r;
  if (prop.win32HandleMetaData != nullptr) return CUDA_ERROR_INVALID_VALUE;  // "required to be zero"
  const auto types = static_cast<unsigned>(prop.requestedHandleTypes);
  if ((types & ~static_cast<unsigned>(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)) != 0) {
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const unsigned usage = prop.allocFlags.usage;
  if ((usage & (CU_MEM_CREATE_USAGE_TILE_POOL | CU_MEM_CREATE_USAGE_HW_DECOMPRESS)) != 0) {
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (usage != 0) return CUDA_ERROR_INVALID_VALUE;
  if (prop.allocFlags.compressionType > CU_MEM_ALLOCATION_COMP_GENERIC) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult MemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                     CUmemAllocationGranularity_flags option) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (granularity == nullptr || prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM && option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (CUresult r = CheckPlacement(*prop); r != CUDA_SUCCESS) return r;
  *granularity = kGranularity;
  return CUDA_SUCCESS;
}

CUresult MemCreate(CUmemGenericAllocationHandle* handle, size_t size, const CUmemAllocationProp* prop,
                   unsigned long long flags) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (handle == nullptr || prop == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (size == 0 || !Granular(size)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckCreation(*prop); r != CUDA_SUCCESS) return r;
  if (LostDevice(prop->location.id)) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  State& s = GetState();
  CUmemAllocationProp kept = *prop;
  std::fill(std::begin(kept.allocFlags.reserved), std::end(kept.allocFlags.reserved), 0);
  DeviceMemory& memory = *s.devices[static_cast<std::size_t>(prop->location.id)].memory;
  const CUmemGenericAllocationHandle id = s.next_id;
  if (CUresult r = Vmm().Create(memory, size, kept, id); r != CUDA_SUCCESS) return r;
  ++s.next_id;
  *handle = id;
  return CUDA_SUCCESS;
}

CUresult MemRelease(CUmemGenericAllocationHandle handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return Vmm().Release(handle);
}

CUresult MemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Vmm().Retain(reinterpret_cast<CUdeviceptr>(addr), handle);
}

// Memory shared as a POSIX descriptor: the descriptor of a memfd holding exactly the allocation.
CUresult MemExportToShareableHandle(void* shareable, CUmemGenericAllocationHandle handle,
                                    CUmemAllocationHandleType type, unsigned long long flags) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (shareable == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_NOT_SUPPORTED;
  int fd = -1;
  if (CUresult r = Vmm().ExportFd(handle, &fd); r != CUDA_SUCCESS) return r;
  std::memcpy(shareable, &fd, sizeof fd);
  return CUDA_SUCCESS;
}

CUresult MemImportFromShareableHandle(CUmemGenericAllocationHandle* handle, void* os_handle,
                                      CUmemAllocationHandleType type) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_NOT_SUPPORTED;
  // No context needed, as with the other calls here; the memory is taken to be the current device's.
  const Context* ctx = CurrentContext();
  // A POSIX descriptor travels in the pointer itself, as cuda.h documents.
  const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(os_handle));
  State& s = GetState();
  const CUmemGenericAllocationHandle id = s.next_id;
  if (CUresult r = Vmm().ImportFd(fd, ctx != nullptr ? ctx->device : 0, id); r != CUDA_SUCCESS) return r;
  ++s.next_id;
  *handle = id;
  return CUDA_SUCCESS;
}

CUresult MemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                              CUmemGenericAllocationHandle handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const PhysicalAllocation* physical = Vmm().Lookup(handle);
  if (physical == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *prop = physical->prop;
  return CUDA_SUCCESS;
}

CUresult MemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                           unsigned long long flags) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (ptr == nullptr || flags != 0 || size == 0 || !Granular(size)) return CUDA_ERROR_INVALID_VALUE;
  if (alignment != 0 && !std::has_single_bit(alignment)) return CUDA_ERROR_INVALID_VALUE;
  return Vmm().Reserve(size, std::max<std::uint64_t>(alignment, kGranularity), addr, ptr);
}

CUresult MemAddressFree(CUdeviceptr ptr, size_t size) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return Vmm().Free(ptr, size);
}

CUresult MemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                unsigned long long flags) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  // cuda.h: the offset "currently must be zero".
  if (flags != 0 || offset != 0 || size == 0 || !Granular(ptr) || !Granular(size))
    return CUDA_ERROR_INVALID_VALUE;
  const unsigned long long id = GetState().next_id;  // the mapping's buffer id
  if (CUresult r = Vmm().Map(ptr, size, handle, id); r != CUDA_SUCCESS) return r;
  ++GetState().next_id;
  return CUDA_SUCCESS;
}

CUresult MemUnmap(CUdeviceptr ptr, size_t size) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return Vmm().Unmap(ptr, size);
}

CUresult MemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  for (std::size_t i = 0; i < count; ++i) {
    if (CUresult r = CheckDeviceLocation(desc[i].location); r != CUDA_SUCCESS) return r;
    const CUmemAccess_flags f = desc[i].flags;
    if (f != CU_MEM_ACCESS_FLAGS_PROT_NONE && f != CU_MEM_ACCESS_FLAGS_PROT_READ &&
        f != CU_MEM_ACCESS_FLAGS_PROT_READWRITE) {
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  return Vmm().SetAccess(ptr, size, desc, count);
}

CUresult MemGetAccess(unsigned long long* flags, const CUmemLocation* location, CUdeviceptr ptr) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckDeviceLocation(*location); r != CUDA_SUCCESS) return r;
  MappedAddress mapped;
  if (!Vmm().Find(ptr, &mapped)) return CUDA_ERROR_INVALID_VALUE;
  *flags = mapped.mapping->Access(location->id);
  return CUDA_SUCCESS;
}

}  // namespace

void FillVirtualMemoryApi(DriverApi& api) {
  api.cuMemGetAllocationGranularity = MemGetAllocationGranularity;
  api.cuMemCreate = MemCreate;
  api.cuMemRelease = MemRelease;
  api.cuMemRetainAllocationHandle = MemRetainAllocationHandle;
  api.cuMemGetAllocationPropertiesFromHandle = MemGetAllocationPropertiesFromHandle;
  api.cuMemExportToShareableHandle = MemExportToShareableHandle;
  api.cuMemImportFromShareableHandle = MemImportFromShareableHandle;
  api.cuMemAddressReserve = MemAddressReserve;
  api.cuMemAddressFree = MemAddressFree;
  api.cuMemMap = MemMap;
  api.cuMemUnmap = MemUnmap;
  api.cuMemSetAccess = MemSetAccess;
  api.cuMemGetAccess = MemGetAccess;
}

}  // namespace gpupool::server::emulated
