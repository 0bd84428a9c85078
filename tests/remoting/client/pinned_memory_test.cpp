#include "remoting/client/pinned_memory.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

namespace gpupool::client {
namespace {

TEST_CASE("pinned allocations are page-aligned, zeroed, tracked and freed once") {
  PinnedMemory pinned;
  void* p = nullptr;
  REQUIRE(pinned.Allocate(10000, CU_MEMHOSTALLOC_PORTABLE, &p) == CUDA_SUCCESS);
  CHECK(reinterpret_cast<std::uintptr_t>(p) % 4096 == 0);
  CHECK(static_cast<unsigned char*>(p)[9999] == 0);
  unsigned flags = 0;
  CHECK(pinned.Find(static_cast<char*>(p) + 9999, &flags));
  CHECK(flags == CU_MEMHOSTALLOC_PORTABLE);
  CHECK_FALSE(pinned.Find(static_cast<char*>(p) + 10000, nullptr));
  CHECK(pinned.Unregister(p) == CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);  // allocated, not registered
  CHECK(pinned.Free(p) == CUDA_SUCCESS);
  CHECK(pinned.Free(p) == CUDA_ERROR_INVALID_VALUE);
  CHECK_FALSE(pinned.Find(p, nullptr));
}

TEST_CASE("host registration rejects overlaps and bad arguments") {
  PinnedMemory pinned;
  std::vector<char> buffer(8192);
  CHECK(pinned.Register(buffer.data() + 100, 1000, 0) == CUDA_SUCCESS);
  CHECK(pinned.Register(buffer.data() + 1000, 10, 0) == CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  CHECK(pinned.Register(buffer.data(), 101, 0) == CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  CHECK(pinned.Register(buffer.data(), 100, 0) == CUDA_SUCCESS);  // adjacent, not overlapping
  CHECK(pinned.Register(buffer.data() + 1100, 10, 0) == CUDA_SUCCESS);
  CHECK(pinned.Register(nullptr, 10, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(pinned.Register(buffer.data() + 4000, 0, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(pinned.Register(buffer.data() + 4000, 10, 0x80) == CUDA_ERROR_INVALID_VALUE);
  CHECK(pinned.Free(buffer.data() + 100) == CUDA_ERROR_INVALID_VALUE);  // registered, not allocated
  CHECK(pinned.Unregister(buffer.data() + 100) == CUDA_SUCCESS);
  CHECK(pinned.Unregister(buffer.data() + 100) == CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
  void* p = nullptr;
  CHECK(pinned.Allocate(0, 0, &p) == CUDA_ERROR_INVALID_VALUE);
  CHECK(pinned.Allocate(16, 0x100, &p) == CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace gpupool::client
