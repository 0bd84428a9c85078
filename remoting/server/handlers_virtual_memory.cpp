// Handlers: virtual memory management. The session may map only its own handles into its own
// reservations (virtual_memory.h checks that before the driver sees a request); a mapping enters the
// allocation table once the driver made it, so every other call may use it, and leaves it when it
// is unmapped. Physical allocations count against the session's memory limit while they live.
#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

// Device memory on `device`, without exportable handle types: gpupool never exports a handle, and
// a driver that cannot make some type should not fail an allocation that will never need it.
CUmemAllocationProp DeviceMemoryProp(int device) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  return prop;
}

// Forgets the mappings at `bases` (already unmapped in the driver); the physical allocations that
// freed are no longer charged, nor offered to other sessions.
void ForgetMappings(Session& s, const std::vector<std::uint64_t>& bases) {
  bool freed = false;
  for (std::uint64_t base : bases) {
    (void)s.memory.Remove(base, AllocationTable::Kind::kMapped);
    freed = s.virtual_memory.RemoveMapping(base) || freed;
  }
  if (freed) s.WithdrawFreedPhysicalExports();
  s.PublishMemory();
}

}  // namespace

GPUPOOL_HANDLER(MemGetAllocationGranularity) {
  const auto& [device, option] = in;
  CUmemAllocationGranularity_flags flags{};
  if (CUresult r = ClientEnum(option, CU_MEM_ALLOC_GRANULARITY_MINIMUM,
                              CU_MEM_ALLOC_GRANULARITY_RECOMMENDED + 1, &flags);
      r != CUDA_SUCCESS)
    return r;
  const CUmemAllocationProp prop = DeviceMemoryProp(device);
  std::size_t granularity = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuMemGetAllocationGranularity, &granularity, &prop, flags);
  std::get<0>(*out) = granularity;
  return r;
}

GPUPOOL_HANDLER(MemCreate) {
  const auto& [size, device, requested_types] = in;
  if (CUresult r = s.CheckQuota(size, static_cast<int>(device)); r != CUDA_SUCCESS) return r;
  CUmemAllocationProp prop = DeviceMemoryProp(device);
  // A POSIX descriptor is the one handle type gpupool exports (MemExportToShareableHandle); the driver
  // must know at creation.
  prop.requestedHandleTypes = static_cast<CUmemAllocationHandleType>(
      requested_types & static_cast<std::uint32_t>(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
  CUmemGenericAllocationHandle handle = 0;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMemCreate, &handle, size, &prop, 0); r != CUDA_SUCCESS) return r;
  const std::uint64_t id = s.ids.Next();
  VirtualMemory::Physical physical;
  physical.handle = handle;
  physical.size = size;
  physical.device = device;
  physical.requested_types = requested_types;
  s.virtual_memory.AddPhysical(id, physical);
  s.PublishMemory();
  std::get<0>(*out) = id;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemRelease) {
  const VirtualMemory::Physical* physical = s.virtual_memory.Handle(std::get<0>(in));
  if (physical == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMemRelease, physical->handle); r != CUDA_SUCCESS) return r;
  if (s.virtual_memory.Release(std::get<0>(in))) s.WithdrawFreedPhysicalExports();
  s.PublishMemory();
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemRetainAllocationHandle) {
  const std::uint64_t ptr = std::get<0>(in);
  const VirtualMemory::Mapping* mapping = s.virtual_memory.MappingAt(ptr);
  if (mapping == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (s.virtual_memory.physicals().at(mapping->physical).references >= VirtualMemory::kMaxReferences)
    return CUDA_ERROR_OUT_OF_MEMORY;
  // The driver counts the reference too, so that its release and ours stay paired.
  CUmemGenericAllocationHandle handle = 0;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMemRetainAllocationHandle, &handle, reinterpret_cast<void*>(ptr));
      r != CUDA_SUCCESS)
    return r;
  (void)s.virtual_memory.Retain(ptr, &std::get<0>(*out));
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemGetAllocationPropertiesFromHandle) {
  const VirtualMemory::Physical* physical = s.virtual_memory.Handle(std::get<0>(in));
  if (physical == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = {physical->device, physical->requested_types};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemAddressReserve) {
  const auto& [size, alignment, hint] = in;
  CUdeviceptr ptr = 0;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMemAddressReserve, &ptr, size, alignment, hint, 0); r != CUDA_SUCCESS)
    return r;
  s.virtual_memory.AddReservation(ptr, size);
  std::get<0>(*out) = ptr;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemAddressFree) {
  const auto& [base, size] = in;
  if (!s.virtual_memory.IsReservation(base, size)) return CUDA_ERROR_INVALID_VALUE;
  // Mappings still inside go with it: unmapped first, so the driver frees their memory in any case.
  const std::vector<std::uint64_t> inside = s.virtual_memory.MappingsIn(base, size);
  for (std::uint64_t mapping : inside) {
    const std::uint64_t bytes = s.virtual_memory.mappings().at(mapping).size;
    if (CUresult r = GPUPOOL_DRIVER(s, cuMemUnmap, mapping, bytes); r != CUDA_SUCCESS) return r;
    ForgetMappings(s, {mapping});
  }
  if (CUresult r = GPUPOOL_DRIVER(s, cuMemAddressFree, base, size); r != CUDA_SUCCESS) return r;
  s.virtual_memory.RemoveReservation(base);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemMap) {
  const auto& [ptr, size, offset, id] = in;
  const VirtualMemory::Physical* physical = s.virtual_memory.Handle(id);
  if (physical == nullptr || !s.virtual_memory.CanMap(ptr, size)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMemMap, ptr, size, offset, physical->handle, 0); r != CUDA_SUCCESS)
    return r;
  s.virtual_memory.AddMapping(ptr, size, id);
  s.memory.Add(ptr, size, AllocationTable::Kind::kMapped);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemUnmap) {
  const auto& [ptr, size] = in;
  std::vector<std::uint64_t> bases;
  if (!s.virtual_memory.WholeMappings(ptr, size, &bases)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMemUnmap, ptr, size); r != CUDA_SUCCESS) return r;
  ForgetMappings(s, bases);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemSetAccess) {
  const auto& [ptr, size, devices, flags] = in;
  std::vector<std::uint64_t> bases;
  if (!s.virtual_memory.WholeMappings(ptr, size, &bases)) return CUDA_ERROR_INVALID_VALUE;
  if (devices.empty() || devices.size() != flags.size()) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUmemAccessDesc> descs(devices.size());
  for (std::size_t i = 0; i < descs.size(); ++i) {
    descs[i].location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    descs[i].location.id = devices[i];
    if (CUresult r = ClientEnum(flags[i], CU_MEM_ACCESS_FLAGS_PROT_NONE, CU_MEM_ACCESS_FLAGS_PROT_MAX,
                                &descs[i].flags);
        r != CUDA_SUCCESS)
      return r;
  }
  return GPUPOOL_DRIVER(s, cuMemSetAccess, ptr, size, descs.data(), descs.size());
}

GPUPOOL_HANDLER(MemGetAccess) {
  const auto& [ptr, device] = in;
  if (s.virtual_memory.MappingAt(ptr) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUmemLocation location{};
  location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  location.id = device;
  unsigned long long flags = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuMemGetAccess, &flags, &location, ptr);
  std::get<0>(*out) = flags;
  return r;
}

}  // namespace gpupool::server
