// Managed memory (managed_memory.h): allocation, prefetching, advice and its queries, stream
// attachment. The devices report CONCURRENT_MANAGED_ACCESS = 0, so programs follow CUDA's rules for
// such devices: no host access while a kernel that may use the memory runs, where memory attached to
// one stream is used only by that stream's work and memory attached to the host by none. Advice
// changes nothing a program can observe but the answers of cuMemRangeGetAttribute(s).
#include <algorithm>
#include <cstring>

#include "remoting/client/api_support.h"
#include "remoting/client/managed_memory.h"

#undef cuMemPrefetchAsync
#undef cuMemAdvise
#undef cuStreamAttachMemAsync
#undef cuMemPrefetchBatchAsync
#undef cuMemDiscardBatchAsync
#undef cuMemDiscardAndPrefetchBatchAsync

using namespace gpupool::client;

namespace {

constexpr CUmemLocation kNowhere{CU_MEM_LOCATION_TYPE_INVALID, 0};

// A prefetch or advice target: a device of the server, or the host.
CUresult CheckLocation(const CUmemLocation& location) {
  switch (location.type) {
    case CU_MEM_LOCATION_TYPE_HOST:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT: return CUDA_SUCCESS;
    case CU_MEM_LOCATION_TYPE_DEVICE: {
      Device* device = nullptr;
      return FindDevice(location.id, &device);
    }
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

// The CUmemLocation a legacy CUdevice argument means (CU_DEVICE_CPU: the host).
CUmemLocation FromDevice(CUdevice device) {
  if (device == CU_DEVICE_CPU) return {CU_MEM_LOCATION_TYPE_HOST, 0};
  return {CU_MEM_LOCATION_TYPE_DEVICE, device};
}

// A location as the legacy range attributes answer it: a device ordinal, CU_DEVICE_CPU or CU_DEVICE_INVALID.
int AsDevice(const CUmemLocation& location) {
  if (location.type == CU_MEM_LOCATION_TYPE_DEVICE) return location.id;
  if (location.type == CU_MEM_LOCATION_TYPE_INVALID) return CU_DEVICE_INVALID;
  return CU_DEVICE_CPU;
}

bool SameLocation(const CUmemLocation& a, const CUmemLocation& b) {
  return a.type == b.type && a.id == b.id;
}

CUresult Prefetch(CUdeviceptr ptr, std::size_t bytes, CUmemLocation location, unsigned flags, CUstream stream,
                  bool per_thread) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  std::uint64_t wire = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &wire));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckLocation(location));
  ManagedMemory& managed = ManagedMemory::Get();
  if (!managed.WithAdvice(ptr, bytes,
                          [&](ManagedMemory::Advice* advice) { advice->last_prefetch = location; }))
    return CUDA_ERROR_INVALID_VALUE;
  // To a device: what the host wrote goes now. To the host: the next access fetches all of it at once,
  // with the synchronous copy every fetch is (after the work of the blocking streams).
  if (location.type == CU_MEM_LOCATION_TYPE_DEVICE) return managed.BeforeDeviceAccess(ptr, bytes);
  managed.PrefetchToHost(ptr, bytes);
  return CUDA_SUCCESS;
}

// A batch of prefetches (CUDA 13): location k applies to operations first[k] to first[k + 1] - 1.
// Discarding leaves the bytes as they are, which is one of the values "undefined" allows.
CUresult PrefetchBatch(CUdeviceptr* ptrs, std::size_t* sizes, std::size_t count, CUmemLocation* locations,
                       std::size_t* first, std::size_t location_count, unsigned long long flags,
                       CUstream stream, bool per_thread, bool prefetch) {
  if (flags != 0 || count == 0 || ptrs == nullptr || sizes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  std::uint64_t wire = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &wire));
  if (wire == 0 || wire == 1) return CUDA_ERROR_INVALID_VALUE;  // never the legacy NULL stream (cuda.h)
  if (prefetch) {
    if (locations == nullptr || first == nullptr || location_count == 0 || location_count > count ||
        first[0] != 0)
      return CUDA_ERROR_INVALID_VALUE;
    for (std::size_t k = 1; k < location_count; ++k)
      if (first[k] <= first[k - 1] || first[k] >= count) return CUDA_ERROR_INVALID_VALUE;
  }
  for (std::size_t i = 0; i < count; ++i)
    if (!ManagedMemory::Get().WithAdvice(ptrs[i], sizes[i], [](ManagedMemory::Advice*) {}))
      return CUDA_ERROR_INVALID_VALUE;
  if (!prefetch) return CUDA_SUCCESS;
  std::size_t k = 0;
  for (std::size_t i = 0; i < count; ++i) {
    while (k + 1 < location_count && first[k + 1] <= i) ++k;
    GPUPOOL_CU_RETURN_IF_ERROR(Prefetch(ptrs[i], sizes[i], locations[k], 0, stream, per_thread));
  }
  return CUDA_SUCCESS;
}

// Enumerations from the program are taken as ints: a value outside the enumeration is an error to
// report, not one to load as the enumeration's type.
CUresult Advise(CUdeviceptr ptr, std::size_t bytes, int advice, CUmemLocation location) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  const bool needs_location = advice == CU_MEM_ADVISE_SET_PREFERRED_LOCATION ||
                              advice == CU_MEM_ADVISE_SET_ACCESSED_BY ||
                              advice == CU_MEM_ADVISE_UNSET_ACCESSED_BY;
  if (advice < CU_MEM_ADVISE_SET_READ_MOSTLY || advice > CU_MEM_ADVISE_UNSET_ACCESSED_BY)
    return CUDA_ERROR_INVALID_VALUE;
  if (needs_location) GPUPOOL_CU_RETURN_IF_ERROR(CheckLocation(location));
  const bool known = ManagedMemory::Get().WithAdvice(ptr, bytes, [&](ManagedMemory::Advice* a) {
    switch (advice) {
      case CU_MEM_ADVISE_SET_READ_MOSTLY: a->read_mostly = true; break;
      case CU_MEM_ADVISE_UNSET_READ_MOSTLY: a->read_mostly = false; break;
      case CU_MEM_ADVISE_SET_PREFERRED_LOCATION: a->preferred = location; break;
      case CU_MEM_ADVISE_UNSET_PREFERRED_LOCATION: a->preferred = kNowhere; break;
      case CU_MEM_ADVISE_SET_ACCESSED_BY:
        if (std::none_of(a->accessed_by.begin(), a->accessed_by.end(),
                         [&](const CUmemLocation& l) { return SameLocation(l, location); }))
          a->accessed_by.push_back(location);
        break;
      case CU_MEM_ADVISE_UNSET_ACCESSED_BY:
        std::erase_if(a->accessed_by, [&](const CUmemLocation& l) { return SameLocation(l, location); });
        break;
    }
  });
  return known ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

template <typename T>
CUresult PutScalar(void* data, std::size_t size, T value) {
  if (size != sizeof value) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(data, &value, sizeof value);
  return CUDA_SUCCESS;
}

CUresult RangeAttribute(void* data, std::size_t size, int attribute, CUdeviceptr ptr, std::size_t bytes) {
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ManagedMemory::Advice advice;
  if (!ManagedMemory::Get().WithAdvice(ptr, bytes, [&](ManagedMemory::Advice* a) { advice = *a; }))
    return CUDA_ERROR_INVALID_VALUE;
  switch (attribute) {
    case CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY: return PutScalar<int>(data, size, advice.read_mostly ? 1 : 0);
    case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION:
      return PutScalar<int>(data, size, AsDevice(advice.preferred));
    case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION:
      return PutScalar<int>(data, size, AsDevice(advice.last_prefetch));
    case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_TYPE:
      return PutScalar<int>(data, size, static_cast<int>(advice.preferred.type));
    case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_ID: return PutScalar<int>(data, size, advice.preferred.id);
    case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_TYPE:
      return PutScalar<int>(data, size, static_cast<int>(advice.last_prefetch.type));
    case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_ID:
      return PutScalar<int>(data, size, advice.last_prefetch.id);
    case CU_MEM_RANGE_ATTRIBUTE_ACCESSED_BY: {
      // One int per slot: each device (or CU_DEVICE_CPU) advised, then CU_DEVICE_INVALID.
      if (size == 0 || size % sizeof(int) != 0) return CUDA_ERROR_INVALID_VALUE;
      const std::size_t slots = size / sizeof(int);
      for (std::size_t i = 0; i < slots; ++i) {
        const int value = i < advice.accessed_by.size() ? AsDevice(advice.accessed_by[i]) : CU_DEVICE_INVALID;
        std::memcpy(static_cast<char*>(data) + i * sizeof(int), &value, sizeof value);
      }
      return CUDA_SUCCESS;
    }
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult AttachMem(CUstream stream, CUdeviceptr ptr, std::size_t length, unsigned flags, bool per_thread) {
  std::uint64_t context = 0, wire = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &wire));
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST && flags != CU_MEM_ATTACH_SINGLE)
    return CUDA_ERROR_INVALID_VALUE;
  // A single-stream attachment names a stream of the program's (not a NULL stream).
  if (flags == CU_MEM_ATTACH_SINGLE && wire <= 2) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr base = 0;
  std::size_t bytes = 0;
  if (!ManagedMemory::Get().Find(ptr, &base, &bytes) || base != ptr) return CUDA_ERROR_INVALID_VALUE;
  // cuda.h: the whole allocation (length 0 says so too).
  if (length != 0 && length != bytes) return CUDA_ERROR_INVALID_VALUE;
  (void)ManagedMemory::Get().Attach(ptr, flags, context, wire);
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytes, unsigned int flags) {
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());
  const Context* current = State::Current();
  const Device* device = State::Get().device(current->device);
  if (device == nullptr || device->attributes[CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY] == 0) {
    GPUPOOL_LOG_ONCE(kWarn, "cuMemAllocManaged")
        << "cuMemAllocManaged: the GPU cannot map memory at chosen addresses (no virtual memory management); "
           "returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedMemory::Get().Allocate(context, current->device, bytes, flags, dptr));
  State::Get().AddAllocation(*dptr, bytes);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemPrefetchAsync(CUdeviceptr ptr, size_t bytes, CUdevice device, CUstream stream) {
  return Prefetch(ptr, bytes, FromDevice(device), 0, stream, false);
}
GPUPOOL_API CUresult cuMemPrefetchAsync_ptsz(CUdeviceptr ptr, size_t bytes, CUdevice device,
                                             CUstream stream) {
  return Prefetch(ptr, bytes, FromDevice(device), 0, stream, true);
}
GPUPOOL_API CUresult cuMemPrefetchAsync_v2(CUdeviceptr ptr, size_t bytes, CUmemLocation location,
                                           unsigned int flags, CUstream stream) {
  return Prefetch(ptr, bytes, location, flags, stream, false);
}
GPUPOOL_API CUresult cuMemPrefetchAsync_v2_ptsz(CUdeviceptr ptr, size_t bytes, CUmemLocation location,
                                                unsigned int flags, CUstream stream) {
  return Prefetch(ptr, bytes, location, flags, stream, true);
}

GPUPOOL_API CUresult cuMemAdvise(CUdeviceptr ptr, size_t bytes, CUmem_advise advice, CUdevice device) {
  return Advise(ptr, bytes, static_cast<int>(advice), FromDevice(device));
}
GPUPOOL_API CUresult cuMemAdvise_v2(CUdeviceptr ptr, size_t bytes, CUmem_advise advice,
                                    CUmemLocation location) {
  return Advise(ptr, bytes, static_cast<int>(advice), location);
}

GPUPOOL_API CUresult cuMemRangeGetAttribute(void* data, size_t data_size, CUmem_range_attribute attribute,
                                            CUdeviceptr ptr, size_t bytes) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return RangeAttribute(data, data_size, static_cast<int>(attribute), ptr, bytes);
}

GPUPOOL_API CUresult cuMemRangeGetAttributes(void** data, size_t* data_sizes,
                                             CUmem_range_attribute* attributes, size_t count, CUdeviceptr ptr,
                                             size_t bytes) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (count == 0 || data == nullptr || data_sizes == nullptr || attributes == nullptr)
    return CUDA_ERROR_INVALID_VALUE;
  for (std::size_t i = 0; i < count; ++i) {
    int attribute = 0;
    std::memcpy(&attribute, &attributes[i], sizeof attribute);
    GPUPOOL_CU_RETURN_IF_ERROR(RangeAttribute(data[i], data_sizes[i], attribute, ptr, bytes));
  }
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuStreamAttachMemAsync(CUstream stream, CUdeviceptr ptr, size_t length,
                                            unsigned int flags) {
  return AttachMem(stream, ptr, length, flags, false);
}
GPUPOOL_API CUresult cuStreamAttachMemAsync_ptsz(CUstream stream, CUdeviceptr ptr, size_t length,
                                                 unsigned int flags) {
  return AttachMem(stream, ptr, length, flags, true);
}

// The batched calls, each with its per-thread-stream twin (_ptsz). A discard changes nothing, so
// discarding and prefetching is prefetching.
#define GPUPOOL_PREFETCH_BATCH(name, per_thread)                                                          \
  GPUPOOL_API CUresult name(CUdeviceptr* ptrs, size_t* sizes, size_t count, CUmemLocation* locations,     \
                            size_t* first, size_t location_count, unsigned long long flags,               \
                            CUstream stream) {                                                            \
    return PrefetchBatch(ptrs, sizes, count, locations, first, location_count, flags, stream, per_thread, \
                         true);                                                                           \
  }
#define GPUPOOL_DISCARD_BATCH(name, per_thread)                                                       \
  GPUPOOL_API CUresult name(CUdeviceptr* ptrs, size_t* sizes, size_t count, unsigned long long flags, \
                            CUstream stream) {                                                        \
    return PrefetchBatch(ptrs, sizes, count, nullptr, nullptr, 0, flags, stream, per_thread, false);  \
  }
GPUPOOL_PREFETCH_BATCH(cuMemPrefetchBatchAsync, false)
GPUPOOL_PREFETCH_BATCH(cuMemPrefetchBatchAsync_ptsz, true)
GPUPOOL_PREFETCH_BATCH(cuMemDiscardAndPrefetchBatchAsync, false)
GPUPOOL_PREFETCH_BATCH(cuMemDiscardAndPrefetchBatchAsync_ptsz, true)
GPUPOOL_DISCARD_BATCH(cuMemDiscardBatchAsync, false)
GPUPOOL_DISCARD_BATCH(cuMemDiscardBatchAsync_ptsz, true)
