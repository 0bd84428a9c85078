// Virtual memory management through gpupool, the way PyTorch's expandable segments and NCCL use it:
// a reservation far larger than the device, physical allocations of the granularity mapped one after
// another into it, data that runs across mapping boundaries, aliases, reference counts, and every
// misuse answered with the driver's error instead of touching memory the program does not own.
// Natively the same checks hold (gpu-check.sh runs it both ways); handles that were never made are
// undefined behaviour in the driver, so the worker's answers to those are in bad_input_test.
#include <cstring>

#include "check.h"

namespace {

CUmemAllocationProp DeviceProp(unsigned long long handle_types = CU_MEM_HANDLE_TYPE_NONE) {
  CUmemAllocationProp prop = {};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  prop.requestedHandleTypes = static_cast<CUmemAllocationHandleType>(handle_types);
  return prop;
}

CUmemAccessDesc ReadWrite() {
  CUmemAccessDesc desc = {};
  desc.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  desc.location.id = 0;
  desc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  return desc;
}

bool Attribute(CUdevice_attribute attribute) {
  int value = 0;
  CU_OK(cuDeviceGetAttribute(&value, attribute, 0));
  return value != 0;
}

size_t FreeBytes() {
  size_t free_bytes = 0, total = 0;
  CU_OK(cuMemGetInfo(&free_bytes, &total));
  return free_bytes;
}

}  // namespace

int main() {
  drv::Start();
  int supported = 0;
  CU_OK(cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0));
  CHECK_TRUE(supported == 1);

  // Granularity: device memory from the server; host memory answers (NCCL asks) but cannot be made.
  CUmemAllocationProp prop = DeviceProp(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  size_t granularity = 0, recommended = 0;
  CU_OK(cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  CU_OK(cuMemGetAllocationGranularity(&recommended, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
  CHECK_TRUE(granularity > 0 && recommended % granularity == 0);
  CU_EXPECT(
      cuMemGetAllocationGranularity(&granularity, &prop, static_cast<CUmemAllocationGranularity_flags>(7)),
      CUDA_ERROR_INVALID_VALUE);
  CUmemAllocationProp host = prop;
  host.location.type = CU_MEM_LOCATION_TYPE_HOST_NUMA;
  size_t host_granularity = 0;
  CU_OK(cuMemGetAllocationGranularity(&host_granularity, &host, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  CUmemGenericAllocationHandle handle = 0;
  if (!Attribute(CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED))
    CU_EXPECT(cuMemCreate(&handle, host_granularity, &host, 0), CUDA_ERROR_NOT_SUPPORTED);
  CUmemAllocationProp bad_device = prop;
  bad_device.location.id = 99;
  CU_EXPECT(cuMemCreate(&handle, granularity, &bad_device, 0), CUDA_ERROR_INVALID_DEVICE);

  // PyTorch's expandable segment: 1 1/8 of the device's memory reserved, a FABRIC handle tried
  // first (refused: gpupool cannot export), then POSIX file descriptor handles, mapped in order.
  size_t total = 0;
  CU_OK(cuDeviceTotalMem(&total, 0));
  const size_t reserve = (total + total / 8 + granularity - 1) / granularity * granularity;
  CUdeviceptr base = 0;
  CU_OK(cuMemAddressReserve(&base, reserve, 0, 0, 0));
  CHECK_TRUE(base != 0 && base % granularity == 0);
  CUmemAllocationProp fabric = DeviceProp(CU_MEM_HANDLE_TYPE_FABRIC);
  const CUresult fabric_result = cuMemCreate(&handle, granularity, &fabric, 0);
  if (fabric_result == CUDA_SUCCESS) CU_OK(cuMemRelease(handle));  // a GPU in an NVLink fabric
  if (!Attribute(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED))
    CU_EXPECT(fabric_result, CUDA_ERROR_NOT_SUPPORTED);
  const size_t free_before = FreeBytes();
  constexpr int kSegments = 3;
  CUmemGenericAllocationHandle segments[kSegments] = {};
  for (int i = 0; i < kSegments; ++i) {
    CU_OK(cuMemCreate(&segments[i], granularity, &prop, 0));
    CU_OK(cuMemMap(base + i * granularity, granularity, 0, segments[i], 0));
  }
  // Physical memory counts at once. ">=" for a GPU, whose driver may also take page tables (and whose
  // free memory is the whole device's); gpupool's exact accounting is checked in session_test.
  CHECK_TRUE(free_before - FreeBytes() >= kSegments * granularity);
  const CUmemAccessDesc rw = ReadWrite();
  CU_OK(cuMemSetAccess(base, kSegments * granularity, &rw, 1));
  unsigned long long flags = 0;
  CUmemLocation device0 = rw.location;
  CU_OK(cuMemGetAccess(&flags, &device0, base + granularity + 5));
  CHECK_TRUE(flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);

  // Data across mapping boundaries, every copy kind, unaligned.
  const size_t span = kSegments * granularity;
  std::vector<unsigned char> data = drv::RandomBytes(span, 11), back(span);
  CU_OK(cuMemcpyHtoD(base, data.data(), span));
  CU_OK(cuMemcpyDtoH(back.data(), base, span));
  CHECK_TRUE(back == data);
  const size_t across = granularity - 1000, length = granularity + 3000;  // crosses two boundaries
  std::vector<unsigned char> part(length);
  CU_OK(cuMemcpyDtoH(part.data(), base + across, length));
  CHECK_TRUE(std::memcmp(part.data(), data.data() + across, length) == 0);
  CUdeviceptr plain = 0;
  CU_OK(cuMemAlloc(&plain, length));
  CU_OK(cuMemcpyDtoD(plain, base + across, length));
  CU_OK(cuMemsetD8(base + across, 0x5a, length));
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CU_OK(cuMemcpyDtoHAsync(part.data(), plain, length, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(std::memcmp(part.data(), data.data() + across, length) == 0);
  CU_OK(cuMemcpy(reinterpret_cast<CUdeviceptr>(part.data()), base + across, length));  // unified addressing
  CHECK_TRUE(part == std::vector<unsigned char>(length, 0x5a));

  // What the driver says about a mapped address: the mapping it lies in.
  CUdeviceptr range_base = 0;
  size_t range_size = 0;
  CU_OK(cuMemGetAddressRange(&range_base, &range_size, base + granularity + 7));
  CHECK_TRUE(range_base == base + granularity && range_size == granularity);
  unsigned memory_type = 0;
  CU_OK(cuPointerGetAttribute(&memory_type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, base + 1));
  CHECK_TRUE(memory_type == CU_MEMORYTYPE_DEVICE);
  // cuda.h: the range attributes describe the reservation, the mapping attributes the mapping.
  CUdeviceptr start = 0, mapping_start = 0;
  size_t start_size = 0, mapping_size = 0;
  CU_OK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, base + granularity + 7));
  CU_OK(cuPointerGetAttribute(&start_size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, base + granularity + 7));
  CU_OK(
      cuPointerGetAttribute(&mapping_start, CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR, base + granularity + 7));
  CU_OK(cuPointerGetAttribute(&mapping_size, CU_POINTER_ATTRIBUTE_MAPPING_SIZE, base + granularity + 7));
  CHECK_TRUE(start == base && start_size == reserve);
  CHECK_TRUE(mapping_start == base + granularity && mapping_size == granularity);
  CU_EXPECT(cuMemFree(base), CUDA_ERROR_INVALID_VALUE);  // mapped memory is not cuMemFree's

  // Reference counts: a retained handle is the same allocation; properties as asked for.
  CUmemGenericAllocationHandle retained = 0;
  CU_OK(cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(base + granularity + 1)));
  CHECK_TRUE(retained == segments[1]);
  CU_OK(cuMemRelease(retained));
  CUmemAllocationProp asked = {};
  CU_OK(cuMemGetAllocationPropertiesFromHandle(&asked, segments[1]));
  CHECK_TRUE(asked.location.type == CU_MEM_LOCATION_TYPE_DEVICE && asked.location.id == 0 &&
             asked.requestedHandleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  CU_EXPECT(cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(base + span)),
            CUDA_ERROR_INVALID_VALUE);

  // An alias: the same physical memory at a second address, in a second reservation.
  CUdeviceptr alias = 0;
  CU_OK(cuMemAddressReserve(&alias, granularity, 0, 0, 0));
  CU_OK(cuMemMap(alias, granularity, 0, segments[2], 0));
  CU_OK(cuMemSetAccess(alias, granularity, &rw, 1));
  const unsigned int word = 0xfeedf00d;
  CU_OK(cuMemsetD32(alias + 64, word, 1));
  unsigned int seen = 0;
  CU_OK(cuMemcpyDtoH(&seen, base + 2 * granularity + 64, sizeof seen));
  CHECK_TRUE(seen == word);

  // Misuse: the driver's errors, and memory outside the mappings stays out of reach.
  CU_EXPECT(cuMemMap(base + granularity, granularity, 0, segments[0], 0),
            CUDA_ERROR_INVALID_VALUE);                                                   // mapped
  CU_EXPECT(cuMemMap(plain, granularity, 0, segments[0], 0), CUDA_ERROR_INVALID_VALUE);  // not a reservation
  CU_EXPECT(cuMemMap(base + reserve - granularity, 2 * granularity, 0, segments[0], 0),
            CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemUnmap(base, granularity / 2), CUDA_ERROR_INVALID_VALUE);  // part of a mapping
  CU_EXPECT(cuMemUnmap(base + span, granularity), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemcpyHtoD(base + span - 8, data.data(), 16), CUDA_ERROR_INVALID_VALUE);  // past the last one
  CU_EXPECT(cuMemSetAccess(base, span + granularity, &rw, 1), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemAddressFree(base, granularity), CUDA_ERROR_INVALID_VALUE);  // not the reserved size
  if (!Attribute(CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED)) {
    CUmemAllocationProp compressible = prop;
    compressible.allocFlags.compressionType = CU_MEM_ALLOCATION_COMP_GENERIC;
    CU_EXPECT(cuMemCreate(&handle, granularity, &compressible, 0), CUDA_ERROR_NOT_SUPPORTED);
  }
  CU_EXPECT(cuMemCreate(&handle, granularity, &prop, 1), CUDA_ERROR_INVALID_VALUE);

  // A mapping without access: the memory is not reachable until cuMemSetAccess.
  CUmemGenericAllocationHandle late = 0;
  CU_OK(cuMemCreate(&late, granularity, &prop, 0));
  CU_OK(cuMemMap(base + span, granularity, 0, late, 0));
  CHECK_TRUE(cuMemcpyHtoD(base + span, data.data(), 64) != CUDA_SUCCESS);
  CU_OK(cuMemGetAccess(&flags, &device0, base + span));
  CHECK_TRUE(flags == CU_MEM_ACCESS_FLAGS_PROT_NONE);
  unsigned pointer_access = 99;
  CU_OK(cuPointerGetAttribute(&pointer_access, CU_POINTER_ATTRIBUTE_ACCESS_FLAGS, base + span));
  CHECK_TRUE(pointer_access == CU_POINTER_ATTRIBUTE_ACCESS_FLAG_NONE);
  CU_OK(cuPointerGetAttribute(&pointer_access, CU_POINTER_ATTRIBUTE_ACCESS_FLAGS, base));
  CHECK_TRUE(pointer_access == CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE);
  CU_OK(cuMemSetAccess(base + span, granularity, &rw, 1));
  CU_OK(cuMemcpyHtoD(base + span, data.data(), 64));

  // Released handles keep their memory while mapped; unmapping frees it (as expandable segments
  // shrink), and the last references go with cuMemRelease.
  const size_t free_mapped = FreeBytes();
  for (CUmemGenericAllocationHandle h : segments) CU_OK(cuMemRelease(h));
  CU_OK(cuMemRelease(late));
  CHECK_TRUE(FreeBytes() == free_mapped);
  CU_OK(cuMemcpyDtoH(&seen, alias + 64, sizeof seen));  // still there
  CHECK_TRUE(seen == word);
  CU_OK(cuMemUnmap(base, 2 * granularity));  // two mappings at once
  CHECK_TRUE(FreeBytes() - free_mapped >= 2 * granularity);
  CU_EXPECT(cuMemcpyHtoD(base, data.data(), 16), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuMemUnmap(alias, granularity));
  CU_OK(cuMemcpyDtoH(&seen, base + 2 * granularity + 64, sizeof seen));  // the other mapping keeps it
  CHECK_TRUE(seen == word);
  CU_OK(cuMemAddressFree(alias, granularity));
  // Freeing a reservation unmaps what is still in it.
  CU_OK(cuMemFree(plain));
  CU_OK(cuMemAddressFree(base, reserve));
  CHECK_TRUE(FreeBytes() + granularity >= free_before);
  CU_EXPECT(cuMemcpyDtoH(&seen, base + 2 * granularity, sizeof seen), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemAddressFree(base, reserve), CUDA_ERROR_INVALID_VALUE);

  // Left behind on purpose: the session's end frees a reservation with a mapping and a handle.
  CUdeviceptr left = 0;
  CU_OK(cuMemAddressReserve(&left, granularity, 0, 0, 0));
  CU_OK(cuMemCreate(&handle, granularity, &prop, 0));
  CU_OK(cuMemMap(left, granularity, 0, handle, 0));
  CU_OK(cuStreamDestroy(stream));
  return drv::Verdict("driver_virtual_memory");
}
