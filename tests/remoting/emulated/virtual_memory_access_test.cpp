// Virtual memory management on the emulated device, mappings in use: copies and memsets through
// mappings and across adjacent ones, aliasing, access rights, cuMemMap's and cuMemSetAccess's checks,
// pointer attributes and address ranges of mapped addresses. Each case gives back what it made.
#include <algorithm>
#include <vector>

#include "tests/remoting/emulated/virtual_memory_helpers.h"

namespace gpupool::server::emulated_test {

using namespace vmm;  // the helpers of these tests (virtual_memory_helpers.h)

TEST_CASE("copies and memsets in every direction through a mapping, across adjacent mappings") {
  const DriverApi& api = Api();
  Mapped m(2);  // two allocations, adjacent in one reservation
  CHECK(m.base >= 0x300000000000ULL);
  const std::size_t n = 1 << 20;
  const CUdeviceptr across = m.base + kGranularity - n / 2;  // half in each mapping
  std::vector<unsigned char> in(n), out(n);
  for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(i * 7 + 3);
  CU_OK(api.cuMemcpyHtoD_v2(across, in.data(), n));
  CU_OK(api.cuMemcpyDtoH_v2(out.data(), across, n));
  CHECK(out == in);

  // Device to device, with ordinary device memory on either side.
  CUdeviceptr plain = 0;
  CU_OK(api.cuMemAlloc_v2(&plain, n));
  CU_OK(api.cuMemcpyDtoD_v2(plain, across, n));
  std::fill(out.begin(), out.end(), 0);
  CU_OK(api.cuMemcpyDtoH_v2(out.data(), plain, n));
  CHECK(out == in);
  CU_OK(api.cuMemsetD8_v2(plain, 0x11, n));
  CU_OK(api.cuMemcpyDtoDAsync_v2(m.base, plain, n, nullptr));
  unsigned char byte = 0;
  CU_OK(api.cuMemcpyDtoH_v2(&byte, m.base + n - 1, 1));
  CHECK(byte == 0x11);
  // Unified addressing tells mapped device memory from host memory.
  CU_OK(api.cuMemcpy(reinterpret_cast<CUdeviceptr>(out.data()), across + 10, 1));
  CHECK(out[0] == in[10]);
  CU_OK(api.cuMemcpy(across + 20, reinterpret_cast<CUdeviceptr>(in.data()), 1));
  CU_OK(api.cuMemcpyDtoH_v2(&byte, across + 20, 1));
  CHECK(byte == in[0]);

  // Memsets across the boundary.
  CU_OK(api.cuMemsetD32_v2(across, 0xdeadbeef, n / 4));
  std::uint32_t words[2] = {};
  CU_OK(api.cuMemcpyDtoH_v2(words, m.base + kGranularity - 4, 8));
  CHECK(words[0] == 0xdeadbeef);
  CHECK(words[1] == 0xdeadbeef);

  // A 2D copy whose rows straddle both mappings.
  CUDA_MEMCPY2D c{};
  c.srcMemoryType = CU_MEMORYTYPE_HOST;
  c.srcHost = in.data();
  c.srcPitch = 256;
  c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  c.dstDevice = m.base + kGranularity - 512;
  c.dstPitch = 512;
  c.WidthInBytes = 100;
  c.Height = 4;
  CU_OK(api.cuMemcpy2D_v2(&c));
  CU_OK(api.cuMemcpyDtoH_v2(&byte, m.base + kGranularity + 512 + 99, 1));  // row 3, last byte
  CHECK(byte == in[3 * 256 + 99]);

  // Past the reservation's end: an error, not a host access.
  CHECK(api.cuMemcpyHtoD_v2(m.base + m.size - 8, in.data(), 16) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemsetD8_v2(m.base + m.size, 0, 1) == CUDA_ERROR_INVALID_VALUE);
  // The server's zero-copy view covers both mappings as one host range.
  std::byte* view = HostView(across, n);
  REQUIRE(view != nullptr);
  view[n / 2 + 1] = std::byte{0x99};  // in the second mapping
  CU_OK(api.cuMemcpyDtoH_v2(&byte, m.base + kGranularity + 1, 1));
  CHECK(byte == 0x99);
  CU_OK(api.cuMemFree_v2(plain));
}

TEST_CASE("one allocation mapped twice shows the same bytes at both addresses") {
  const DriverApi& api = Api();
  CUmemGenericAllocationHandle handle = Create(2 * kGranularity);
  CUdeviceptr first = Reserve(4 * kGranularity), second = Reserve(2 * kGranularity);
  CU_OK(api.cuMemMap(first, 2 * kGranularity, 0, handle, 0));
  CU_OK(api.cuMemMap(first + 2 * kGranularity, kGranularity, 0, handle, 0));  // its first granule only
  CU_OK(api.cuMemMap(second, 2 * kGranularity, 0, handle, 0));
  CU_OK(SetAccess(first, 3 * kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE));
  CU_OK(SetAccess(second, 2 * kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE));
  const std::uint64_t value = 0x0123456789abcdefULL;
  CU_OK(api.cuMemcpyHtoD_v2(first + kGranularity + 8, &value, sizeof value));
  std::uint64_t got = 0;
  CU_OK(api.cuMemcpyDtoH_v2(&got, second + kGranularity + 8, sizeof got));
  CHECK(got == value);
  CU_OK(api.cuMemsetD8_v2(second + 100, 0x7e, 1));
  unsigned char byte = 0;
  CU_OK(api.cuMemcpyDtoH_v2(&byte, first + 2 * kGranularity + 100, 1));
  CHECK(byte == 0x7e);
  CU_OK(api.cuMemcpyDtoH_v2(&byte, first + 100, 1));
  CHECK(byte == 0x7e);
  CU_OK(api.cuMemAddressFree(first, 4 * kGranularity));  // unmaps its two mappings
  CU_OK(api.cuMemcpyDtoH_v2(&got, second + kGranularity + 8, sizeof got));
  CHECK(got == value);
  CU_OK(api.cuMemUnmap(second, 2 * kGranularity));
  CU_OK(api.cuMemRelease(handle));
  CU_OK(api.cuMemAddressFree(second, 2 * kGranularity));
}

TEST_CASE("mappings start without access, read-only access reads but does not write") {
  const DriverApi& api = Api();
  CUmemGenericAllocationHandle handle = Create(kGranularity);
  CUdeviceptr ptr = Reserve(kGranularity);
  CU_OK(api.cuMemMap(ptr, kGranularity, 0, handle, 0));
  CHECK(GetAccess(ptr) == CU_MEM_ACCESS_FLAGS_PROT_NONE);
  CHECK(GetAccess(ptr + 5, 1) == CU_MEM_ACCESS_FLAGS_PROT_NONE);
  std::vector<unsigned char> buffer(4096, 0x42);
  CHECK(api.cuMemcpyHtoD_v2(ptr, buffer.data(), buffer.size()) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemcpyDtoH_v2(buffer.data(), ptr, buffer.size()) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemsetD8_v2(ptr, 1, 10) == CUDA_ERROR_INVALID_VALUE);
  CHECK(HostView(ptr, 10) == nullptr);

  // Device 1 may write; the current context is device 0's, which still may not.
  CU_OK(SetAccess(ptr, kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE, 1));
  CHECK(GetAccess(ptr, 1) == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
  CHECK(GetAccess(ptr, 0) == CU_MEM_ACCESS_FLAGS_PROT_NONE);
  CHECK(api.cuMemcpyHtoD_v2(ptr, buffer.data(), buffer.size()) == CUDA_ERROR_INVALID_VALUE);
  CUcontext primary0 = nullptr, primary1 = nullptr;
  CU_OK(api.cuCtxGetCurrent(&primary0));
  CU_OK(api.cuDevicePrimaryCtxRetain(&primary1, 1));
  CU_OK(api.cuCtxSetCurrent(primary1));
  CU_OK(api.cuMemcpyHtoD_v2(ptr, buffer.data(), buffer.size()));
  CU_OK(api.cuCtxSetCurrent(primary0));
  CU_OK(api.cuDevicePrimaryCtxRelease_v2(1));

  CU_OK(SetAccess(ptr, kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READ));
  CHECK(GetAccess(ptr) == CU_MEM_ACCESS_FLAGS_PROT_READ);
  std::vector<unsigned char> out(buffer.size());
  CU_OK(api.cuMemcpyDtoH_v2(out.data(), ptr, out.size()));
  CHECK(out == buffer);
  CUdeviceptr plain = 0;
  CU_OK(api.cuMemAlloc_v2(&plain, 4096));
  CU_OK(api.cuMemcpyDtoD_v2(plain, ptr, 4096));  // reading it is fine
  CHECK(api.cuMemcpyDtoD_v2(ptr, plain, 4096) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemcpyHtoD_v2(ptr, buffer.data(), 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemcpy(ptr, reinterpret_cast<CUdeviceptr>(buffer.data()), 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemsetD32_v2(ptr, 0, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(HostView(ptr, 10) == nullptr);  // the view could be written through
  unsigned flags = 99;
  CU_OK(api.cuPointerGetAttribute(&flags, CU_POINTER_ATTRIBUTE_ACCESS_FLAGS, ptr));
  CHECK(flags == CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READ);
  CU_OK(SetAccess(ptr, kGranularity, CU_MEM_ACCESS_FLAGS_PROT_NONE));
  CHECK(api.cuMemcpyDtoH_v2(out.data(), ptr, 1) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemFree_v2(plain));
  CU_OK(api.cuMemUnmap(ptr, kGranularity));
  CU_OK(api.cuMemRelease(handle));
  CU_OK(api.cuMemAddressFree(ptr, kGranularity));
}

TEST_CASE("cuMemMap and cuMemSetAccess check their arguments") {
  const DriverApi& api = Api();
  CUmemGenericAllocationHandle handle = Create(2 * kGranularity);
  CUdeviceptr base = Reserve(4 * kGranularity);
  CHECK(api.cuMemMap(base, kGranularity, 0, handle, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemMap(base, kGranularity, kGranularity, handle, 0) == CUDA_ERROR_INVALID_VALUE);  // offset
  CHECK(api.cuMemMap(base + 4096, kGranularity, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemMap(base, kGranularity + 4096, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemMap(base, 0, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemMap(base, 4 * kGranularity, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);  // > allocation
  CHECK(api.cuMemMap(base + 3 * kGranularity, 2 * kGranularity, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemMap(base + 4 * kGranularity, kGranularity, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemMap(0x300000000000ULL - kGranularity, kGranularity, 0, handle, 0) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemMap(base, kGranularity, 0, handle + 999, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemMap(base, kGranularity, 0, 0, 0) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemMap(base + kGranularity, 2 * kGranularity, 0, handle, 0));
  CHECK(api.cuMemMap(base, 2 * kGranularity, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);  // overlaps
  CHECK(api.cuMemMap(base + 2 * kGranularity, kGranularity, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemMap(base, kGranularity, 0, handle, 0));  // the free granule before it

  CUmemAccessDesc desc{};
  desc.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  desc.location.id = 0;
  desc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  CHECK(api.cuMemSetAccess(base, kGranularity, nullptr, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemSetAccess(base, kGranularity, &desc, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemSetAccess(base, 2 * kGranularity, &desc, 1) == CUDA_ERROR_INVALID_VALUE);  // half a mapping
  CHECK(api.cuMemSetAccess(base + 3 * kGranularity, kGranularity, &desc, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemSetAccess(0x1000, kGranularity, &desc, 1) == CUDA_ERROR_INVALID_VALUE);
  CUmemAccessDesc two[2] = {desc, desc};
  two[1].location.id = 2;
  CHECK(api.cuMemSetAccess(base, 3 * kGranularity, two, 2) == CUDA_ERROR_INVALID_DEVICE);
  CHECK(GetAccess(base) == CU_MEM_ACCESS_FLAGS_PROT_NONE);  // nothing applied
  two[1].location.id = 1;
  two[1].location.type = CU_MEM_LOCATION_TYPE_HOST;
  CHECK(api.cuMemSetAccess(base, 3 * kGranularity, two, 2) == CUDA_ERROR_INVALID_DEVICE);
  two[1].location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  two[1].flags = static_cast<CUmemAccess_flags>(2);
  CHECK(api.cuMemSetAccess(base, 3 * kGranularity, two, 2) == CUDA_ERROR_INVALID_VALUE);
  two[1].flags = CU_MEM_ACCESS_FLAGS_PROT_READ;
  CU_OK(api.cuMemSetAccess(base, 3 * kGranularity, two, 2));
  CHECK(GetAccess(base + kGranularity, 0) == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
  CHECK(GetAccess(base + kGranularity, 1) == CU_MEM_ACCESS_FLAGS_PROT_READ);

  unsigned long long flags = 0;
  CUmemLocation location{CU_MEM_LOCATION_TYPE_DEVICE, 0};
  CHECK(api.cuMemGetAccess(nullptr, &location, base) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemGetAccess(&flags, nullptr, base) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemGetAccess(&flags, &location, base + 3 * kGranularity) == CUDA_ERROR_INVALID_VALUE);
  location.id = 5;
  CHECK(api.cuMemGetAccess(&flags, &location, base) == CUDA_ERROR_INVALID_DEVICE);
  CU_OK(api.cuMemUnmap(base, 3 * kGranularity));
  CU_OK(api.cuMemRelease(handle));
  CU_OK(api.cuMemAddressFree(base, 4 * kGranularity));
}

TEST_CASE("mapped addresses: address ranges and pointer attributes") {
  const DriverApi& api = Api();
  CUmemAllocationProp prop = DeviceProp(1);
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  CUmemGenericAllocationHandle handle = 0;
  CU_OK(api.cuMemCreate(&handle, 2 * kGranularity, &prop, 0));
  CUdeviceptr base = Reserve(8 * kGranularity);
  const CUdeviceptr mapped = base + 2 * kGranularity;
  CU_OK(api.cuMemMap(mapped, 2 * kGranularity, 0, handle, 0));
  CU_OK(SetAccess(mapped, 2 * kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE));

  CUdeviceptr start = 0;
  size_t size = 0;
  CU_OK(api.cuMemGetAddressRange_v2(&start, &size, mapped + kGranularity + 7));
  CHECK(start == mapped);
  CHECK(size == 2 * kGranularity);
  CHECK(api.cuMemGetAddressRange_v2(&start, &size, base) == CUDA_ERROR_NOT_FOUND);

  const CUdeviceptr p = mapped + 100;
  unsigned type = 0, is_mapped = 0, ipc = 9, access = 0;
  CU_OK(api.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p));
  CHECK(type == CU_MEMORYTYPE_DEVICE);
  CUdeviceptr device_pointer = 0;
  CU_OK(api.cuPointerGetAttribute(&device_pointer, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, p));
  CHECK(device_pointer == p);
  int ordinal = -1;
  CU_OK(api.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, p));
  CHECK(ordinal == 1);  // the physical memory's device, not the current context's
  CU_OK(api.cuPointerGetAttribute(&is_mapped, CU_POINTER_ATTRIBUTE_MAPPED, p));
  CHECK(is_mapped == 1);
  CU_OK(api.cuPointerGetAttribute(&ipc, CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE, p));
  CHECK(ipc == 0);
  CU_OK(api.cuPointerGetAttribute(&access, CU_POINTER_ATTRIBUTE_ACCESS_FLAGS, p));
  CHECK(access == CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE);
  unsigned long long handle_types = 0;
  CU_OK(api.cuPointerGetAttribute(&handle_types, CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES, p));
  CHECK(handle_types == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  CUmemoryPool pool = reinterpret_cast<CUmemoryPool>(1);
  CU_OK(api.cuPointerGetAttribute(&pool, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, p));
  CHECK(pool == nullptr);
  CUcontext ctx = reinterpret_cast<CUcontext>(1);
  CU_OK(api.cuPointerGetAttribute(&ctx, CU_POINTER_ATTRIBUTE_CONTEXT, p));
  CHECK(ctx == nullptr);  // mapped memory belongs to no context
  // cuda.h: RANGE_* are the mappable range (the reservation), MAPPING_* the mapping.
  CUdeviceptr range_start = 0, mapping_base = 0;
  size_t range_size = 0, mapping_size = 0;
  CU_OK(api.cuPointerGetAttribute(&range_start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, p));
  CU_OK(api.cuPointerGetAttribute(&range_size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, p));
  CU_OK(api.cuPointerGetAttribute(&mapping_base, CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR, p));
  CU_OK(api.cuPointerGetAttribute(&mapping_size, CU_POINTER_ATTRIBUTE_MAPPING_SIZE, p));
  CHECK(range_start == base);
  CHECK(range_size == 8 * kGranularity);
  CHECK(mapping_base == mapped);
  CHECK(mapping_size == 2 * kGranularity);
  void* host = nullptr;
  CHECK(api.cuPointerGetAttribute(&host, CU_POINTER_ATTRIBUTE_HOST_POINTER, p) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, base) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemFree_v2(mapped) == CUDA_ERROR_INVALID_VALUE);  // not cuMemAlloc's

  CU_OK(api.cuMemUnmap(mapped, 2 * kGranularity));
  CHECK(api.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemGetAddressRange_v2(&start, &size, p) == CUDA_ERROR_NOT_FOUND);
  CU_OK(api.cuMemRelease(handle));
  CU_OK(api.cuMemAddressFree(base, 8 * kGranularity));
}

}  // namespace gpupool::server::emulated_test
