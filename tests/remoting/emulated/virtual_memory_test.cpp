// Virtual memory management on the emulated device, the life of what it makes: granularity,
// physical allocations (checks, capacity, reference counts), reservations (checks, alignment, hints,
// cost), unmapping and freeing. Each case gives back what it allocated or reserved: the backend is
// shared by the whole process. Mappings in use: virtual_memory_access_test.cpp.
#include <vector>

#include "tests/remoting/emulated/virtual_memory_helpers.h"

namespace gpupool::server::emulated_test {

using namespace vmm;  // the helpers of these tests (virtual_memory_helpers.h)

TEST_CASE("the allocation granularity is 2 MiB for device memory, other properties are refused") {
  const DriverApi& api = Api();
  CUmemAllocationProp prop = DeviceProp(1);
  size_t granularity = 0;
  CU_OK(api.cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  CHECK(granularity == kGranularity);
  granularity = 0;
  CU_OK(api.cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
  CHECK(granularity == kGranularity);
  CHECK(api.cuMemGetAllocationGranularity(nullptr, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemGetAllocationGranularity(&granularity, nullptr, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemGetAllocationGranularity(&granularity, &prop,
                                          static_cast<CUmemAllocationGranularity_flags>(2)) ==
        CUDA_ERROR_INVALID_VALUE);
  prop.type = CU_MEM_ALLOCATION_TYPE_MANAGED;
  CHECK(api.cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
        CUDA_ERROR_INVALID_VALUE);
  prop = DeviceProp(0);
  prop.location.type = CU_MEM_LOCATION_TYPE_HOST;
  CHECK(api.cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
        CUDA_ERROR_INVALID_VALUE);
  prop = DeviceProp(2);  // the fixture has two GPUs
  CHECK(api.cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
        CUDA_ERROR_INVALID_DEVICE);
  prop = DeviceProp(-1);
  CHECK(api.cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
        CUDA_ERROR_INVALID_DEVICE);
}

TEST_CASE("cuMemCreate checks its arguments and keeps the properties it was given") {
  const DriverApi& api = Api();
  CUmemGenericAllocationHandle handle = 0;
  CUmemAllocationProp prop = DeviceProp(0);
  CHECK(api.cuMemCreate(nullptr, kGranularity, &prop, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemCreate(&handle, kGranularity, nullptr, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemCreate(&handle, kGranularity, &prop, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemCreate(&handle, 0, &prop, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemCreate(&handle, kGranularity + 4096, &prop, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemCreate(&handle, 4096, &prop, 0) == CUDA_ERROR_INVALID_VALUE);
  prop.type = CU_MEM_ALLOCATION_TYPE_MANAGED;
  CHECK(api.cuMemCreate(&handle, kGranularity, &prop, 0) == CUDA_ERROR_INVALID_VALUE);
  prop = DeviceProp(0);
  prop.location.type = CU_MEM_LOCATION_TYPE_HOST_NUMA;
  CHECK(api.cuMemCreate(&handle, kGranularity, &prop, 0) == CUDA_ERROR_INVALID_VALUE);
  prop = DeviceProp(7);
  CHECK(api.cuMemCreate(&handle, kGranularity, &prop, 0) == CUDA_ERROR_INVALID_DEVICE);
  for (auto types : {CU_MEM_HANDLE_TYPE_FABRIC, CU_MEM_HANDLE_TYPE_WIN32, CU_MEM_HANDLE_TYPE_WIN32_KMT,
                     static_cast<CUmemAllocationHandleType>(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR |
                                                            CU_MEM_HANDLE_TYPE_FABRIC),
                     static_cast<CUmemAllocationHandleType>(0x40)}) {
    prop = DeviceProp(0);
    prop.requestedHandleTypes = types;
    CHECK(api.cuMemCreate(&handle, kGranularity, &prop, 0) == CUDA_ERROR_NOT_SUPPORTED);
  }
  prop = DeviceProp(0);
  prop.allocFlags.usage = CU_MEM_CREATE_USAGE_TILE_POOL;
  CHECK(api.cuMemCreate(&handle, kGranularity, &prop, 0) == CUDA_ERROR_NOT_SUPPORTED);
  CHECK(handle == 0);  // nothing was made

  prop = DeviceProp(1);
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  prop.allocFlags.compressionType = CU_MEM_ALLOCATION_COMP_GENERIC;
  prop.allocFlags.gpuDirectRDMACapable = 1;
  CU_OK(api.cuMemCreate(&handle, 3 * kGranularity, &prop, 0));
  CUmemAllocationProp got{};
  CU_OK(api.cuMemGetAllocationPropertiesFromHandle(&got, handle));
  CHECK(got.type == CU_MEM_ALLOCATION_TYPE_PINNED);
  CHECK(got.location.type == CU_MEM_LOCATION_TYPE_DEVICE);
  CHECK(got.location.id == 1);
  CHECK(got.requestedHandleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  CHECK(got.allocFlags.compressionType == CU_MEM_ALLOCATION_COMP_GENERIC);
  CHECK(got.allocFlags.gpuDirectRDMACapable == 1);
  CHECK(got.allocFlags.usage == 0);
  CHECK(api.cuMemGetAllocationPropertiesFromHandle(nullptr, handle) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemGetAllocationPropertiesFromHandle(&got, handle + 12345) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemRelease(handle));
  CHECK(api.cuMemRelease(handle) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemGetAllocationPropertiesFromHandle(&got, handle) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemRelease(0) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("mappable blocks are aligned, count against capacity, and are no device pointers") {
  constexpr std::uint64_t kCapacity = 16ULL << 20;
  auto created = emulated::DeviceMemory::Create(0x100000000000ULL, kCapacity);
  REQUIRE(created.ok());
  emulated::DeviceMemory& memory = *created.value();
  CHECK(memory.mappable_fd() == -1);  // made at the first mappable block
  CUdeviceptr small = 0;
  CU_OK(memory.Allocate(1000, &small));  // a page at offset 0
  std::uint64_t offset = 0;
  CU_OK(memory.AllocateMappable(kGranularity, kGranularity, &offset));
  CHECK(offset == kGranularity);
  CHECK(memory.mappable_fd() >= 0);
  CHECK(memory.free_bytes() == kCapacity - 4096 - kGranularity);
  CUdeviceptr start = 0;
  std::uint64_t size = 0;
  CHECK_FALSE(memory.Find(memory.base() + offset + 10, &start, &size));
  CHECK(memory.Resolve(memory.base() + offset, 1) == nullptr);
  CHECK(memory.Free(memory.base() + offset) == CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr padding = 0;
  CU_OK(memory.Allocate(4096, &padding));  // the alignment's padding stays free
  CHECK(padding == memory.base() + 4096);
  std::uint64_t unused = 0;
  CHECK(memory.AllocateMappable(kCapacity, kGranularity, &unused) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(memory.AllocateMappable(kGranularity, 1000, &unused) == CUDA_ERROR_INVALID_VALUE);
  memory.FreeMappable(offset);
  CU_OK(memory.Free(small));
  CU_OK(memory.Free(padding));
  CHECK(memory.free_bytes() == kCapacity);
  CU_OK(memory.AllocateMappable(kCapacity, kGranularity, &offset));  // all of it, coalesced again
  CHECK(offset == 0);
  memory.FreeMappable(offset);
  CHECK(memory.allocation_count() == 0);
}

TEST_CASE("physical memory counts against its device's capacity like cuMemAlloc") {
  const DriverApi& api = Api();
  const std::size_t free_before = FreeBytes();
  CUmemGenericAllocationHandle on_other = Create(64 * kGranularity, 1);
  CHECK(FreeBytes() == free_before);  // device 1's memory
  const std::size_t half = free_before / 2 / kGranularity * kGranularity;
  CUmemGenericAllocationHandle a = Create(half), b = 0;
  CHECK(FreeBytes() == free_before - half);
  const CUmemAllocationProp prop = DeviceProp(0);
  const std::size_t past_free = (free_before - half) / kGranularity * kGranularity + kGranularity;
  CHECK(api.cuMemCreate(&b, past_free, &prop, 0) == CUDA_ERROR_OUT_OF_MEMORY);
  CUdeviceptr plain = 0;
  CHECK(api.cuMemAlloc_v2(&plain, free_before - half + 1) == CUDA_ERROR_OUT_OF_MEMORY);
  CU_OK(api.cuMemCreate(&b, half, &prop, 0));
  CHECK(b != a);
  CHECK(api.cuMemCreate(&b, (free_before - 2 * half) / kGranularity * kGranularity + kGranularity, &prop,
                        0) == CUDA_ERROR_OUT_OF_MEMORY);
  CU_OK(api.cuMemRelease(a));
  CU_OK(api.cuMemRelease(b));
  CU_OK(api.cuMemRelease(on_other));
  CHECK(FreeBytes() == free_before);
}

TEST_CASE("unmapping takes whole mappings, several adjacent ones at once, and the range maps again") {
  const DriverApi& api = Api();
  CUmemGenericAllocationHandle a = Create(2 * kGranularity), b = Create(kGranularity);
  CUdeviceptr base = Reserve(8 * kGranularity);
  CU_OK(api.cuMemMap(base, 2 * kGranularity, 0, a, 0));
  CU_OK(api.cuMemMap(base + 2 * kGranularity, kGranularity, 0, b, 0));
  CU_OK(api.cuMemMap(base + 4 * kGranularity, kGranularity, 0, b, 0));    // after a gap
  CHECK(api.cuMemUnmap(base, kGranularity) == CUDA_ERROR_INVALID_VALUE);  // half of a's mapping
  CHECK(api.cuMemUnmap(base + kGranularity, 2 * kGranularity) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemUnmap(base, 4 * kGranularity) == CUDA_ERROR_INVALID_VALUE);  // runs into the gap
  CHECK(api.cuMemUnmap(base, 5 * kGranularity) == CUDA_ERROR_INVALID_VALUE);  // spans the gap
  CHECK(api.cuMemUnmap(base + 3 * kGranularity, kGranularity) == CUDA_ERROR_INVALID_VALUE);  // nothing there
  CHECK(api.cuMemUnmap(base, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemUnmap(base + 100 * kGranularity, kGranularity) == CUDA_ERROR_INVALID_VALUE);
  CHECK(SetAccess(base, kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE) == CUDA_ERROR_INVALID_VALUE);
  CHECK(SetAccess(base, 5 * kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(SetAccess(base, 3 * kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE));
  CHECK(GetAccess(base + 2 * kGranularity) == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
  CHECK(GetAccess(base + 4 * kGranularity) == CU_MEM_ACCESS_FLAGS_PROT_NONE);

  CU_OK(api.cuMemUnmap(base, 3 * kGranularity));  // a's and b's first mappings together
  unsigned long long flags = 0;
  CUmemLocation location{CU_MEM_LOCATION_TYPE_DEVICE, 0};
  CHECK(api.cuMemGetAccess(&flags, &location, base) == CUDA_ERROR_INVALID_VALUE);
  unsigned char byte = 0;
  CHECK(api.cuMemcpyDtoH_v2(&byte, base, 1) == CUDA_ERROR_INVALID_VALUE);
  // The range is a reservation again; a new mapping there starts without access.
  CU_OK(api.cuMemMap(base + kGranularity, 2 * kGranularity, 0, a, 0));
  CHECK(GetAccess(base + kGranularity) == CU_MEM_ACCESS_FLAGS_PROT_NONE);
  CU_OK(api.cuMemUnmap(base + kGranularity, 2 * kGranularity));
  CU_OK(api.cuMemUnmap(base + 4 * kGranularity, kGranularity));
  CU_OK(api.cuMemRelease(a));
  CU_OK(api.cuMemRelease(b));
  CU_OK(api.cuMemAddressFree(base, 8 * kGranularity));
}

TEST_CASE("released memory lives until its last mapping goes, the handle dies with its last reference") {
  const DriverApi& api = Api();
  const std::size_t free_before = FreeBytes();
  const std::uint64_t memfd_before = MemfdBytes();
  CUmemGenericAllocationHandle handle = Create(8 * kGranularity);
  CUdeviceptr ptr = Reserve(8 * kGranularity);
  CU_OK(api.cuMemMap(ptr, 8 * kGranularity, 0, handle, 0));
  CU_OK(SetAccess(ptr, 8 * kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE));
  CU_OK(api.cuMemsetD8_v2(ptr, 0x5c, 8 * kGranularity));
  CHECK(MemfdBytes() - memfd_before >= 8 * kGranularity);
  CU_OK(api.cuMemRelease(handle));
  CHECK(FreeBytes() == free_before - 8 * kGranularity);  // still mapped
  unsigned char byte = 0;
  CU_OK(api.cuMemcpyDtoH_v2(&byte, ptr + 12345, 1));
  CHECK(byte == 0x5c);
  // The handle is gone even though its memory lives on.
  CUmemAllocationProp prop{};
  CHECK(api.cuMemGetAllocationPropertiesFromHandle(&prop, handle) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemRelease(handle) == CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr other = Reserve(8 * kGranularity);
  CHECK(api.cuMemMap(other, 8 * kGranularity, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemAddressFree(other, 8 * kGranularity));

  CU_OK(api.cuMemUnmap(ptr, 8 * kGranularity));
  CHECK(FreeBytes() == free_before);
  CHECK(MemfdBytes() == memfd_before);  // the pages went back to the kernel
  CU_OK(api.cuMemAddressFree(ptr, 8 * kGranularity));
}

TEST_CASE("cuMemRetainAllocationHandle adds a reference to the mapped allocation") {
  const DriverApi& api = Api();
  const std::size_t free_before = FreeBytes();
  CUmemGenericAllocationHandle handle = Create(2 * kGranularity);
  CUdeviceptr ptr = Reserve(4 * kGranularity);
  CU_OK(api.cuMemMap(ptr + kGranularity, 2 * kGranularity, 0, handle, 0));
  CUmemGenericAllocationHandle retained = 0;
  CU_OK(api.cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(ptr + 3 * kGranularity - 1)));
  CHECK(retained == handle);
  CU_OK(api.cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(ptr + kGranularity)));
  CHECK(api.cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(ptr)) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(ptr + 3 * kGranularity)) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemRetainAllocationHandle(nullptr, reinterpret_cast<void*>(ptr + kGranularity)) ==
        CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemUnmap(ptr + kGranularity, 2 * kGranularity));
  // Three references: creation and two retains; the memory stays until the last.
  CU_OK(api.cuMemRelease(handle));
  CU_OK(api.cuMemRelease(handle));
  CHECK(FreeBytes() == free_before - 2 * kGranularity);
  CUmemAllocationProp prop{};
  CU_OK(api.cuMemGetAllocationPropertiesFromHandle(&prop, handle));
  CU_OK(api.cuMemRelease(handle));
  CHECK(FreeBytes() == free_before);
  CHECK(api.cuMemRelease(handle) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemAddressFree(ptr, 4 * kGranularity));
}

TEST_CASE("freeing a reservation unmaps what is still mapped in it") {
  const DriverApi& api = Api();
  const std::size_t free_before = FreeBytes();
  CUmemGenericAllocationHandle kept = Create(kGranularity), dropped = Create(kGranularity);
  CUdeviceptr ptr = Reserve(4 * kGranularity);
  CU_OK(api.cuMemMap(ptr, kGranularity, 0, kept, 0));
  CU_OK(api.cuMemMap(ptr + 2 * kGranularity, kGranularity, 0, dropped, 0));
  CU_OK(api.cuMemRelease(dropped));  // only its mapping holds it now
  CHECK(api.cuMemAddressFree(ptr, 3 * kGranularity) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressFree(ptr + kGranularity, 3 * kGranularity) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressFree(0, 4 * kGranularity) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemAddressFree(ptr, 4 * kGranularity));
  CHECK(FreeBytes() == free_before - kGranularity);  // `kept` still has its reference
  unsigned char byte = 0;
  CHECK(api.cuMemcpyDtoH_v2(&byte, ptr, 1) == CUDA_ERROR_INVALID_VALUE);
  CUmemGenericAllocationHandle retained = 0;
  CHECK(api.cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(ptr)) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressFree(ptr, 4 * kGranularity) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemRelease(kept));
  CHECK(FreeBytes() == free_before);
}

TEST_CASE("reservations: argument checks, alignment, address hints, their own address window") {
  const DriverApi& api = Api();
  CUdeviceptr ptr = 0;
  CHECK(api.cuMemAddressReserve(nullptr, kGranularity, 0, 0, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressReserve(&ptr, kGranularity, 0, 0, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressReserve(&ptr, 0, 0, 0, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressReserve(&ptr, kGranularity + 4096, 0, 0, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressReserve(&ptr, kGranularity, 3 * kGranularity, 0, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressReserve(&ptr, kGranularity, 1ULL << 62, 0, 0) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(api.cuMemAddressReserve(&ptr, 1ULL << 46, 0, 0, 0) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(ptr == 0);

  CUdeviceptr aligned = 0;
  CU_OK(api.cuMemAddressReserve(&aligned, kGranularity, 1ULL << 30, 0, 0));
  CHECK(aligned % (1ULL << 30) == 0);
  CUdeviceptr small = 0;
  CU_OK(api.cuMemAddressReserve(&small, kGranularity, 4096, 0, 0));  // at least the granularity
  CHECK(small % kGranularity == 0);
  // Reservations never overlap each other, nor any GPU's cuMemAlloc range.
  CUdeviceptr plain = 0;
  CU_OK(api.cuMemAlloc_v2(&plain, 4096));
  CHECK((small + kGranularity <= aligned || aligned + kGranularity <= small));
  CHECK(small >= 0x300000000000ULL);
  CHECK(plain < 0x300000000000ULL);

  // A free, aligned hint is taken; a taken or unaligned one is only a hint.
  const CUdeviceptr wanted = 0x380000000000ULL;
  CUdeviceptr hinted = 0, again = 0, odd = 0;
  CU_OK(api.cuMemAddressReserve(&hinted, 4 * kGranularity, 0, wanted, 0));
  CHECK(hinted == wanted);
  CU_OK(api.cuMemAddressReserve(&again, 2 * kGranularity, 0, wanted + kGranularity, 0));
  CHECK((again + 2 * kGranularity <= wanted || again >= wanted + 4 * kGranularity));
  CU_OK(api.cuMemAddressReserve(&odd, kGranularity, 0, wanted + 4 * kGranularity + 4096, 0));
  CHECK(odd % kGranularity == 0);
  CHECK(api.cuMemAddressFree(hinted, 2 * kGranularity) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemAddressFree(hinted, 4 * kGranularity));
  CU_OK(api.cuMemAddressFree(again, 2 * kGranularity));
  CU_OK(api.cuMemAddressFree(odd, kGranularity));
  CU_OK(api.cuMemAddressFree(small, kGranularity));
  CU_OK(api.cuMemAddressFree(aligned, kGranularity));
  CHECK(api.cuMemAddressFree(aligned, kGranularity) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAddressFree(plain, 4096) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemFree_v2(plain));
}

TEST_CASE("reserving 1.125 times the device's memory, several times, costs no resident memory") {
  const DriverApi& api = Api();
  size_t free = 0, total = 0;
  CU_OK(api.cuMemGetInfo_v2(&free, &total));
  const std::size_t size = total / 8 * 9;  // what PyTorch's expandable segments reserve (18 GiB here)
  const std::uint64_t rss_before = ResidentBytes();
  std::vector<CUdeviceptr> reserved;
  for (int i = 0; i < 4; ++i) reserved.push_back(Reserve(size));
  CHECK(ResidentBytes() - rss_before < (16ULL << 20));
  CHECK(FreeBytes() == free);  // nor device memory
  // One granule mapped at the far end of one of them works like any other.
  CUmemGenericAllocationHandle handle = Create(kGranularity);
  const CUdeviceptr last = reserved[1] + size - kGranularity;
  CU_OK(api.cuMemMap(last, kGranularity, 0, handle, 0));
  CU_OK(SetAccess(last, kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE));
  CU_OK(api.cuMemsetD8_v2(last + kGranularity - 1, 0x33, 1));
  unsigned char byte = 0;
  CU_OK(api.cuMemcpyDtoH_v2(&byte, last + kGranularity - 1, 1));
  CHECK(byte == 0x33);
  CU_OK(api.cuMemRelease(handle));
  for (CUdeviceptr ptr : reserved) CU_OK(api.cuMemAddressFree(ptr, size));  // the mapping goes with it
  CHECK(FreeBytes() == free);
}

TEST_CASE("virtual memory calls need cuInit but no current context") {
  const DriverApi& api = Api();
  CUcontext ctx = nullptr;
  CU_OK(api.cuCtxGetCurrent(&ctx));
  CU_OK(api.cuCtxSetCurrent(nullptr));
  CUmemGenericAllocationHandle handle = Create(kGranularity);
  CUdeviceptr ptr = Reserve(kGranularity);
  CU_OK(api.cuMemMap(ptr, kGranularity, 0, handle, 0));
  CU_OK(SetAccess(ptr, kGranularity, CU_MEM_ACCESS_FLAGS_PROT_READWRITE));
  CHECK(GetAccess(ptr) == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
  CHECK(HostView(ptr, 1) == nullptr);  // no current device: no view
  CU_OK(api.cuCtxSetCurrent(ctx));
  CHECK(HostView(ptr, 1) != nullptr);
  CU_OK(api.cuMemUnmap(ptr, kGranularity));
  CU_OK(api.cuMemRelease(handle));
  CU_OK(api.cuMemAddressFree(ptr, kGranularity));
}

}  // namespace gpupool::server::emulated_test
