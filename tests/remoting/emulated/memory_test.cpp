// The allocator (alignment, reuse, coalescing, out of memory), lazy backing, device addresses,
// address ranges and pointer attributes.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "remoting/server/emulated/device_memory.h"
#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {
namespace {

using emulated::DeviceMemory;

std::unique_ptr<DeviceMemory> SmallDevice(std::uint64_t bytes) {
  auto memory = DeviceMemory::Create(0x100000000000ULL, bytes);
  REQUIRE(memory.ok());
  return std::move(memory).value();
}

std::uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("allocations are whole pages, distinct and reused after free") {
  auto memory = SmallDevice(1 << 20);
  std::vector<CUdeviceptr> addresses;
  for (std::uint64_t size : {1, 255, 256, 4097, 1000, 4096, 3}) {
    CUdeviceptr p = 0;
    CU_OK(memory->Allocate(size, &p));
    CHECK(p % 4096 == 0);  // so that one can be shared with another process alone (Share)
    for (CUdeviceptr q : addresses) CHECK(p != q);
    addresses.push_back(p);
  }
  CHECK(addresses[1] - addresses[0] == 4096);  // 1 byte reserves one page
  CHECK(addresses[4] - addresses[3] == 8192);  // 4097 bytes reserve two
  CU_OK(memory->Free(addresses[2]));
  CUdeviceptr again = 0;
  CU_OK(memory->Allocate(200, &again));
  CHECK(again == addresses[2]);  // first fit reuses the freed block
  CHECK(memory->Free(addresses[2] + 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(memory->Free(0x1234) == CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr zero = 0;
  CHECK(memory->Allocate(0, &zero) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("a shared allocation keeps its bytes and addresses, and is private memory again once freed") {
  auto memory = SmallDevice(1 << 20);
  CUdeviceptr before = 0, p = 0, after = 0;
  CU_OK(memory->Allocate(100, &before));
  CU_OK(memory->Allocate(3 * 4096 + 5, &p));
  CU_OK(memory->Allocate(100, &after));
  std::byte* host = memory->Resolve(p, 3 * 4096 + 5);
  REQUIRE(host != nullptr);
  std::memset(host + 4096, 0x7e, 10);  // the first page stays untouched
  std::memset(memory->Resolve(before, 100), 0x11, 100);
  std::uint64_t offset = 0, bytes = 0;
  CU_OK(memory->Share(p + 50, &offset, &bytes));
  CHECK(offset == p - memory->base());
  CHECK(bytes == 4 * 4096);
  CHECK(memory->Resolve(p, 1) == host);  // same place, same bytes
  CHECK(host[4096 + 9] == std::byte{0x7e});
  CHECK(host[0] == std::byte{0});
  // The memfd holds them: what another process maps.
  unsigned char seen[10] = {};
  REQUIRE(pread(memory->mappable_fd(), seen, 10, static_cast<off_t>(offset + 4096)) == 10);
  CHECK(seen[9] == 0x7e);
  host[4096 + 20] = std::byte{0x42};  // and writes here land there
  REQUIRE(pread(memory->mappable_fd(), seen, 1, static_cast<off_t>(offset + 4096 + 20)) == 1);
  CHECK(seen[0] == 0x42);
  std::uint64_t again_offset = 0, again_bytes = 0;
  CU_OK(memory->Share(p, &again_offset, &again_bytes));  // once
  CHECK(again_offset == offset);
  CHECK(memory->Resolve(before, 1)[0] == std::byte{0x11});  // neighbours untouched
  CHECK(memory->Share(memory->base() + (512 << 10), &offset, &bytes) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(memory->Free(p));
  REQUIRE(pread(memory->mappable_fd(), seen, 1, static_cast<off_t>(again_offset + 4096 + 20)) == 1);
  CHECK(seen[0] == 0);  // the memfd's pages went with it
  CUdeviceptr reused = 0;
  CU_OK(memory->Allocate(3 * 4096, &reused));
  CHECK(reused == p);
  CHECK(memory->Resolve(reused, 4096 * 2)[4096 + 20] == std::byte{0});  // private zeros again
}

TEST_CASE("out of memory at the device's capacity, and coalesced free space fits again") {
  auto memory = SmallDevice(1 << 20);
  CUdeviceptr a = 0, b = 0, c = 0, d = 0;
  CU_OK(memory->Allocate(256 << 10, &a));
  CU_OK(memory->Allocate(256 << 10, &b));
  CU_OK(memory->Allocate(512 << 10, &c));
  CHECK(memory->free_bytes() == 0);
  CHECK(memory->Allocate(1, &d) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(memory->Allocate(2 << 20, &d) == CUDA_ERROR_OUT_OF_MEMORY);
  CU_OK(memory->Free(a));
  CU_OK(memory->Free(b));
  CU_OK(memory->Allocate(512 << 10, &d));  // only fits if a and b merged
  CHECK(d == a);
  CU_OK(memory->Free(c));
  CU_OK(memory->Free(d));
  CU_OK(memory->Allocate(1 << 20, &d));  // the whole device again
  CHECK(memory->allocation_count() == 1);
}

TEST_CASE("a 16 GiB device allocates without resident memory growth") {
  const DriverApi& api = Api();
  size_t free_before = 0, total = 0;
  CU_OK(api.cuMemGetInfo_v2(&free_before, &total));
  CHECK(total == (16ULL << 30));
  const std::uint64_t rss_before = ResidentBytes();
  CUdeviceptr big = 0;
  CU_OK(api.cuMemAlloc_v2(&big, 12ULL << 30));
  CU_OK(api.cuMemsetD8_v2(big + (6ULL << 30), 0x5a, 4096));  // touch one page in the middle
  unsigned char byte = 0;
  CU_OK(api.cuMemcpyDtoH_v2(&byte, big + (6ULL << 30) + 100, 1));
  CHECK(byte == 0x5a);
  CHECK(ResidentBytes() - rss_before < (64ULL << 20));
  size_t free_after = 0;
  CU_OK(api.cuMemGetInfo_v2(&free_after, &total));
  CHECK(free_before - free_after == (12ULL << 30));
  CUdeviceptr more = 0;
  CHECK(api.cuMemAlloc_v2(&more, 5ULL << 30) == CUDA_ERROR_OUT_OF_MEMORY);
  CU_OK(api.cuMemFree_v2(big));
  CU_OK(api.cuMemGetInfo_v2(&free_after, &total));
  CHECK(free_after == free_before);
}

TEST_CASE("device addresses are not host addresses, address ranges, pointer attributes") {
  const DriverApi& api = Api();
  CUdeviceptr p = 0;
  CU_OK(api.cuMemAlloc_v2(&p, 1000));
  CHECK(p >= 0x200000000000ULL);
  CUdeviceptr base = 0;
  size_t size = 0;
  CU_OK(api.cuMemGetAddressRange_v2(&base, &size, p + 999));
  CHECK(base == p);
  CHECK(size == 1000);
  CHECK(api.cuMemGetAddressRange_v2(&base, &size, p + 1000) == CUDA_ERROR_NOT_FOUND);
  unsigned type = 0;
  CU_OK(api.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p + 10));
  CHECK(type == CU_MEMORYTYPE_DEVICE);
  int ordinal = -1;
  CU_OK(api.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, p));
  CHECK(ordinal == 0);
  CUdeviceptr start = 0;
  CU_OK(api.cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, p + 500));
  CHECK(start == p);
  CUcontext ctx = nullptr, current = nullptr;
  CU_OK(api.cuPointerGetAttribute(&ctx, CU_POINTER_ATTRIBUTE_CONTEXT, p));
  CU_OK(api.cuCtxGetCurrent(&current));
  CHECK(ctx == current);
  void* host = nullptr;
  CHECK(api.cuPointerGetAttribute(&host, CU_POINTER_ATTRIBUTE_HOST_POINTER, p) == CUDA_ERROR_INVALID_VALUE);
  int local = 0;
  CHECK(api.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                  reinterpret_cast<CUdeviceptr>(&local)) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemFree_v2(p));
  CHECK(api.cuMemFree_v2(p) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("pitched allocations, pinned host memory and registration") {
  const DriverApi& api = Api();
  CUdeviceptr p = 0;
  size_t pitch = 0;
  CU_OK(api.cuMemAllocPitch_v2(&p, &pitch, 100, 10, 4));
  CHECK(pitch == 512);
  CUdeviceptr base = 0;
  size_t size = 0;
  CU_OK(api.cuMemGetAddressRange_v2(&base, &size, p));
  CHECK(size == 5120);
  CHECK(api.cuMemAllocPitch_v2(&p, &pitch, 100, 10, 3) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemFree_v2(base));

  void* pinned = nullptr;
  CU_OK(api.cuMemHostAlloc(&pinned, 10000, CU_MEMHOSTALLOC_PORTABLE));
  unsigned type = 0;
  CU_OK(api.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                  reinterpret_cast<CUdeviceptr>(pinned) + 9999));
  CHECK(type == CU_MEMORYTYPE_HOST);
  CU_OK(api.cuMemFreeHost(pinned));
  CHECK(api.cuMemFreeHost(pinned) == CUDA_ERROR_INVALID_VALUE);

  std::vector<char> buffer(8192);
  CU_OK(api.cuMemHostRegister_v2(buffer.data(), buffer.size(), 0));
  CHECK(api.cuMemHostRegister_v2(buffer.data() + 100, 10, 0) == CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  CU_OK(api.cuMemHostUnregister(buffer.data()));
  CHECK(api.cuMemHostUnregister(buffer.data()) == CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
}

}  // namespace gpupool::server::emulated_test
