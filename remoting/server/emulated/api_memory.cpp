// Device memory allocation, pinned host memory and pointer attributes (of mapped memory too:
// virtual_memory.h).
#include <cstdlib>
#include <cstring>

#include "common/address_ranges.h"
#include "remoting/server/emulated/api.h"

namespace gpupool::server::emulated {
namespace {

constexpr std::size_t kPitchAlignment = 512;

DeviceMemory& MemoryOf(const Context* ctx) {
  return *GetState().devices[ctx->device].memory;
}

CUresult MemGetInfo(size_t* free, size_t* total) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *free = MemoryOf(ctx).free_bytes();
  *total = MemoryOf(ctx).capacity();
  return CUDA_SUCCESS;
}

CUresult MemAlloc(CUdeviceptr* dptr, size_t bytes) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUresult r = MemoryOf(ctx).Allocate(bytes, dptr);
  if (r == CUDA_SUCCESS) GetState().allocation_owner[*dptr] = ctx;
  return r;
}

CUresult MemAllocPitch(CUdeviceptr* dptr, size_t* pitch, size_t width, size_t height, unsigned element) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (dptr == nullptr || pitch == nullptr || width == 0 || height == 0) return CUDA_ERROR_INVALID_VALUE;
  if (element != 4 && element != 8 && element != 16) return CUDA_ERROR_INVALID_VALUE;
  if (width > SIZE_MAX - kPitchAlignment) return CUDA_ERROR_INVALID_VALUE;
  const std::size_t rounded = (width + kPitchAlignment - 1) / kPitchAlignment * kPitchAlignment;
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(rounded, height, &bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  const CUresult r = MemoryOf(ctx).Allocate(bytes, dptr);
  if (r == CUDA_SUCCESS) {
    *pitch = rounded;
    GetState().allocation_owner[*dptr] = ctx;
  }
  return r;
}

CUresult MemFree(CUdeviceptr dptr) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (dptr == 0) return CUDA_SUCCESS;
  // Only cuMemAlloc'd blocks: a module's globals are freed with the module.
  if (GetState().allocation_owner.erase(dptr) == 0) return CUDA_ERROR_INVALID_VALUE;
  return MemoryFor(dptr)->Free(dptr);
}

CUresult MemGetAddressRange(CUdeviceptr* base, size_t* size, CUdeviceptr dptr) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  DeviceMemory* memory = MemoryFor(dptr);
  CUdeviceptr start = 0;
  std::uint64_t bytes = 0;
  MappedAddress mapped;
  if (memory == nullptr || !memory->Find(dptr, &start, &bytes)) {
    // A mapped address: the mapping is the range (its reservation may hold others).
    if (!GetState().virtual_memory.Find(dptr, &mapped)) return CUDA_ERROR_NOT_FOUND;
    start = mapped.start;
    bytes = mapped.mapping->size;
  }
  if (base != nullptr) *base = start;
  if (size != nullptr) *size = bytes;
  return CUDA_SUCCESS;
}

CUresult MemAllocAsync(CUdeviceptr* dptr, size_t bytes, CUstream stream) {
  {
    GPUPOOL_EMULATED_LOCK();
    if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  }
  return MemAlloc(dptr, bytes);
}

CUresult MemFreeAsync(CUdeviceptr dptr, CUstream stream) {
  {
    GPUPOOL_EMULATED_LOCK();
    if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  }
  if (dptr == 0) return CUDA_ERROR_INVALID_VALUE;
  return MemFree(dptr);
}

CUresult MemHostAlloc(void** pp, size_t bytes, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (pp == nullptr || bytes == 0 || (flags & ~0x7u) != 0) return CUDA_ERROR_INVALID_VALUE;
  void* p = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  GetState().host_allocations.emplace(p, bytes);
  *pp = p;
  return CUDA_SUCCESS;
}

CUresult MemFreeHost(void* p) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (GetState().host_allocations.erase(p) == 0) return CUDA_ERROR_INVALID_VALUE;
  std::free(p);
  return CUDA_SUCCESS;
}

CUresult MemHostRegister(void* p, size_t bytes, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (p == nullptr || bytes == 0 || (flags & ~0xfu) != 0) return CUDA_ERROR_INVALID_VALUE;
  const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(p);
  if (start > UINTPTR_MAX - bytes) return CUDA_ERROR_INVALID_VALUE;
  auto& registered = GetState().host_registered;
  if (Overlaps(registered, start, bytes, [](const State::RegisteredHost& h) { return h.bytes; }))
    return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
  registered.emplace(start, State::RegisteredHost{bytes, flags});
  return CUDA_SUCCESS;
}

CUresult MemHostUnregister(void* p) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (GetState().host_registered.erase(reinterpret_cast<std::uintptr_t>(p)) == 0) {
    return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
  }
  return CUDA_SUCCESS;
}

// Pinned host memory the emulator knows of (cuMemHostAlloc or cuMemHostRegister) holding `p`.
bool FindHost(std::uintptr_t p, std::uintptr_t* start, std::size_t* size) {
  for (const auto& [base, bytes] : GetState().host_allocations) {
    const auto b = reinterpret_cast<std::uintptr_t>(base);
    if (p >= b && p - b < bytes) return *start = b, *size = bytes, true;
  }
  const auto& registered = GetState().host_registered;
  auto it = RangeHolding(registered, p, [](const State::RegisteredHost& h) { return h.bytes; });
  if (it == registered.end()) return false;
  *start = it->first;
  *size = it->second.bytes;
  return true;
}

// With unified addressing a pinned allocation is mapped, and so is registered memory with
// CU_MEMHOSTREGISTER_DEVICEMAP: the device pointer is the host pointer.
CUresult MemHostGetDevicePointer(CUdeviceptr* dptr, void* p, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (dptr == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::uintptr_t start = 0;
  std::size_t size = 0;
  if (!FindHost(address, &start, &size)) return CUDA_ERROR_INVALID_VALUE;
  auto registered = GetState().host_registered.find(start);
  if (registered != GetState().host_registered.end() &&
      (registered->second.flags & CU_MEMHOSTREGISTER_DEVICEMAP) == 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *dptr = static_cast<CUdeviceptr>(address);
  return CUDA_SUCCESS;
}

template <typename T>
CUresult Put(void* data, T value) {
  std::memcpy(data, &value, sizeof(T));
  return CUDA_SUCCESS;
}

// An address inside a mapping. No context owns mapped memory; as cuda.h documents, RANGE_* are the
// mappable range (the reservation) and MAPPING_* the mapping. Access flags are the current
// context's device's (CUDA_POINTER_ATTRIBUTE_ACCESS_FLAGS has cuMemSetAccess's values).
CUresult MappedAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr, const MappedAddress& at,
                         const Context* current) {
  const Mapping& mapping = *at.mapping;
  const PhysicalAllocation& physical = *mapping.physical;
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: return Put(data, CUcontext{nullptr});
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: return Put<unsigned>(data, CU_MEMORYTYPE_DEVICE);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return Put(data, ptr);
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: return Put<unsigned>(data, 1);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: return Put<unsigned long long>(data, mapping.id);
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: return Put<unsigned>(data, 0);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return Put<int>(data, physical.prop.location.id);
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: return Put<unsigned>(data, 0);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return Put(data, at.reservation_start);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return Put<size_t>(data, at.reservation_size);
    case CU_POINTER_ATTRIBUTE_MAPPED: return Put<unsigned>(data, 1);
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
      return Put<unsigned long long>(data, physical.prop.requestedHandleTypes);
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
      return Put<unsigned>(data, physical.prop.allocFlags.gpuDirectRDMACapable != 0 ? 1 : 0);
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
      return Put<unsigned>(data, static_cast<unsigned>(mapping.Access(current->device)));
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: return Put(data, CUmemoryPool{nullptr});
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: return Put<size_t>(data, mapping.size);
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: return Put(data, at.start);
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: return Put<unsigned long long>(data, physical.handle);
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: return Put<unsigned>(data, 0);
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

// Only CU_POINTER_ATTRIBUTE_SYNC_MEMOPS can be set, and only on device memory. The emulated device's
// memory operations are all synchronous already, so there is nothing to change.
CUresult PointerSetAttribute(const void* value, CUpointer_attribute attribute, CUdeviceptr ptr) {
  GPUPOOL_CURRENT_CONTEXT(current);
  (void)current;
  if (value == nullptr || attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS) return CUDA_ERROR_INVALID_VALUE;
  MappedAddress mapped;
  const DeviceMemory* memory = MemoryFor(ptr);
  CUdeviceptr start = 0;
  std::uint64_t size = 0;
  const bool device =
      (memory != nullptr && memory->Find(ptr, &start, &size)) || GetState().virtual_memory.Find(ptr, &mapped);
  return device ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult PointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  GPUPOOL_CURRENT_CONTEXT(current);
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  DeviceMemory* memory = MemoryFor(ptr);
  CUdeviceptr start = 0;
  std::uint64_t size = 0;
  if (memory != nullptr && memory->Find(ptr, &start, &size)) {
    const int device = static_cast<int>((memory->base() - GetState().devices[0].memory->base()) >> 40);
    auto owned = GetState().allocation_owner.find(start);
    Context* owner = owned != GetState().allocation_owner.end() ? owned->second : current;
    switch (attribute) {
      case CU_POINTER_ATTRIBUTE_CONTEXT: return Put(data, reinterpret_cast<CUcontext>(owner));
      case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: return Put<unsigned>(data, CU_MEMORYTYPE_DEVICE);
      case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return Put(data, ptr);
      case CU_POINTER_ATTRIBUTE_HOST_POINTER: return CUDA_ERROR_INVALID_VALUE;
      case CU_POINTER_ATTRIBUTE_IS_MANAGED: return Put<unsigned>(data, 0);
      case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return Put<int>(data, device);
      case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return Put(data, start);
      case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return Put<size_t>(data, size);
      case CU_POINTER_ATTRIBUTE_MAPPED: return Put<unsigned>(data, 1);
      case CU_POINTER_ATTRIBUTE_BUFFER_ID: return Put<unsigned long long>(data, start);
      case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: return Put<unsigned>(data, 1);
      default: return CUDA_ERROR_INVALID_VALUE;
    }
  }
  if (MappedAddress mapped; GetState().virtual_memory.Find(ptr, &mapped)) {
    return MappedAttribute(data, attribute, ptr, mapped, current);
  }
  std::uintptr_t host_start = 0;
  std::size_t host_size = 0;
  if (!FindHost(static_cast<std::uintptr_t>(ptr), &host_start, &host_size)) return CUDA_ERROR_INVALID_VALUE;
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: return Put(data, reinterpret_cast<CUcontext>(current));
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: return Put<unsigned>(data, CU_MEMORYTYPE_HOST);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return Put(data, ptr);
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: return Put(data, reinterpret_cast<void*>(ptr));
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: return Put<unsigned>(data, 0);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return Put<int>(data, current->device);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return Put<CUdeviceptr>(data, host_start);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return Put<size_t>(data, host_size);
    case CU_POINTER_ATTRIBUTE_MAPPED: return Put<unsigned>(data, 1);
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace

void FillMemoryApi(DriverApi& api) {
  api.cuMemGetInfo_v2 = MemGetInfo;
  api.cuMemAlloc_v2 = MemAlloc;
  api.cuMemAllocPitch_v2 = MemAllocPitch;
  api.cuMemFree_v2 = MemFree;
  api.cuMemGetAddressRange_v2 = MemGetAddressRange;
  api.cuMemHostAlloc = MemHostAlloc;
  api.cuMemFreeHost = MemFreeHost;
  api.cuMemHostRegister_v2 = MemHostRegister;
  api.cuMemHostUnregister = MemHostUnregister;
  api.cuMemHostGetDevicePointer_v2 = MemHostGetDevicePointer;
  api.cuMemAllocAsync = MemAllocAsync;
  api.cuMemFreeAsync = MemFreeAsync;
  api.cuPointerGetAttribute = PointerGetAttribute;
  api.cuPointerSetAttribute = PointerSetAttribute;
}

}  // namespace gpupool::server::emulated
