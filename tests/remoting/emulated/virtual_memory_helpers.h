// Helpers of the virtual memory tests (virtual_memory_test.cpp, virtual_memory_access_test.cpp):
// device-0 properties, creation and reservation that must succeed, access rights, free device memory,
// resident and memfd bytes, the server's zero-copy view, and a reservation mapped read-write.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <vector>

#include "remoting/server/emulated/state.h"
#include "tests/remoting/emulated/fixture.h"

// Their own namespace: the names are short and the fixture's namespace is shared by every test file.
namespace gpupool::server::emulated_test::vmm {

constexpr std::size_t kGranularity = 2ULL << 20;

inline CUmemAllocationProp DeviceProp(int device = 0) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  return prop;
}

inline CUmemGenericAllocationHandle Create(std::size_t size, int device = 0) {
  const CUmemAllocationProp prop = DeviceProp(device);
  CUmemGenericAllocationHandle handle = 0;
  CU_OK(Api().cuMemCreate(&handle, size, &prop, 0));
  CHECK(handle != 0);
  return handle;
}

inline CUdeviceptr Reserve(std::size_t size) {
  CUdeviceptr ptr = 0;
  CU_OK(Api().cuMemAddressReserve(&ptr, size, 0, 0, 0));
  return ptr;
}

inline CUresult SetAccess(CUdeviceptr ptr, std::size_t size, CUmemAccess_flags flags, int device = 0) {
  CUmemAccessDesc desc{};
  desc.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  desc.location.id = device;
  desc.flags = flags;
  return Api().cuMemSetAccess(ptr, size, &desc, 1);
}

inline unsigned long long GetAccess(CUdeviceptr ptr, int device = 0) {
  CUmemLocation location{CU_MEM_LOCATION_TYPE_DEVICE, device};
  unsigned long long flags = 99;
  CU_OK(Api().cuMemGetAccess(&flags, &location, ptr));
  return flags;
}

// Free bytes of the current context's device (device 0).
inline std::size_t FreeBytes() {
  size_t free = 0, total = 0;
  CU_OK(Api().cuMemGetInfo_v2(&free, &total));
  return free;
}

inline std::uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

// Bytes the kernel holds for device 0's mappable memory (its memfd).
inline std::uint64_t MemfdBytes() {
  auto& s = emulated::GetState();
  std::lock_guard lock(s.mu);
  struct stat st {};
  if (fstat(s.devices[0].memory->mappable_fd(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

// The server's zero-copy view (Backend::HostView resolves through this), for the calling thread.
inline std::byte* HostView(CUdeviceptr ptr, std::size_t bytes) {
  std::lock_guard lock(emulated::GetState().mu);
  return emulated::ResolveDevice(ptr, bytes);
}

// A reservation of `count` granules with one allocation of one granule mapped read-write at each.
struct Mapped {
  CUdeviceptr base = 0;
  std::size_t size = 0;
  std::vector<CUmemGenericAllocationHandle> handles;

  explicit Mapped(std::size_t count) : size(count * kGranularity) {
    base = Reserve(size);
    for (std::size_t i = 0; i < count; ++i) {
      handles.push_back(Create(kGranularity));
      CU_OK(Api().cuMemMap(base + i * kGranularity, kGranularity, 0, handles.back(), 0));
    }
    CU_OK(SetAccess(base, size, CU_MEM_ACCESS_FLAGS_PROT_READWRITE));
  }
  ~Mapped() {
    CHECK(Api().cuMemUnmap(base, size) == CUDA_SUCCESS);
    for (auto handle : handles) CHECK(Api().cuMemRelease(handle) == CUDA_SUCCESS);
    CHECK(Api().cuMemAddressFree(base, size) == CUDA_SUCCESS);
  }
};

}  // namespace gpupool::server::emulated_test::vmm
