#include "remoting/client/mem_pool.h"

#include <catch2/catch.hpp>

namespace gpupool::client {
namespace {

const StreamKey kS{1, 10}, kT{1, 11};

std::uint64_t Get(const MemPool& pool, CUmemPool_attribute attribute) {
  cuuint64_t value = 0;
  REQUIRE(pool.GetAttribute(attribute, &value) == CUDA_SUCCESS);
  return value;
}

int GetInt(const MemPool& pool, CUmemPool_attribute attribute) {
  int value = -1;
  REQUIRE(pool.GetAttribute(attribute, &value) == CUDA_SUCCESS);
  return value;
}

TEST_CASE("mem pool: a freed block is reused on its stream at once, elsewhere with a wait") {
  MemPool pool(0, 0);
  MemPool::Reuse reuse;
  CHECK_FALSE(pool.TakeFree(1024, kS, &reuse));
  pool.AddUsed(0x1000, 1024);
  CHECK_FALSE(pool.Free(0x2000, kS, 7, 1));  // not from this pool
  REQUIRE(pool.Free(0x1000, kS, 7, 1));
  CHECK_FALSE(pool.Free(0x1000, kS, 8, 2));  // already free

  REQUIRE(pool.TakeFree(1000, kS, &reuse));
  CHECK(reuse.ptr == 0x1000);
  CHECK(reuse.bytes == 1024);
  CHECK(reuse.free_event == 7);
  CHECK_FALSE(reuse.wait);

  REQUIRE(pool.Free(0x1000, kS, 8, 2));
  REQUIRE(pool.TakeFree(1000, kT, &reuse));  // another stream: waits for the free's event
  CHECK(reuse.wait);
  CHECK(reuse.free_event == 8);
  CHECK(reuse.recorded.key == kS);

  int no = 0;
  REQUIRE(pool.SetAttribute(CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES, &no) == CUDA_SUCCESS);
  REQUIRE(pool.Free(0x1000, kS, 9, 3));
  CHECK_FALSE(pool.TakeFree(1000, kT, &reuse));
  pool.MarkComplete(1, &kT, 10);  // another stream's synchronisation proves nothing
  CHECK_FALSE(pool.TakeFree(1000, kT, &reuse));
  pool.MarkComplete(1, &kS, 3);  // frees before seq 3 only
  CHECK_FALSE(pool.TakeFree(1000, kT, &reuse));
  pool.MarkComplete(1, nullptr, 4);  // opportunistic reuse once complete
  REQUIRE(pool.TakeFree(1000, kT, &reuse));
  CHECK_FALSE(reuse.wait);
  CHECK(GetInt(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES) == 0);
  CHECK(GetInt(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC) == 1);
}

TEST_CASE("mem pool: a large block is not pinned by a small request") {
  MemPool pool(0, 0);
  pool.AddUsed(0x1000, 4096);
  REQUIRE(pool.Free(0x1000, kS, 1, 1));
  MemPool::Reuse reuse;
  CHECK_FALSE(pool.TakeFree(1024, kS, &reuse));
  CHECK(pool.TakeFree(2048, kS, &reuse));
}

TEST_CASE("mem pool: accounting, high marks, trimming to the threshold and the maximum size") {
  MemPool pool(0, 10000);
  CHECK(pool.Fits(10000));
  CHECK_FALSE(pool.Fits(10001));
  pool.AddUsed(0x1000, 4096);
  pool.AddUsed(0x3000, 2048);
  CHECK_FALSE(pool.Fits(4000));
  CHECK(Get(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 6144);
  CHECK(Get(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 6144);
  REQUIRE(pool.Free(0x1000, kS, 1, 1));
  REQUIRE(pool.Free(0x3000, kT, 2, 2));
  CHECK(Get(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 0);
  CHECK(Get(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH) == 6144);
  CHECK(Get(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 6144);

  CHECK(pool.Trim(0).empty());  // no free is known complete yet
  CHECK(pool.PendingFrees().size() == 2);
  pool.MarkEventComplete(1);
  auto released = pool.Trim(0);
  REQUIRE(released.size() == 1);
  CHECK(released[0].ptr == 0x1000);
  CHECK(released[0].event == 1);
  CHECK(Get(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 2048);
  pool.MarkComplete(1, nullptr, 100);
  CHECK(pool.Trim(2048).empty());  // within the amount to keep
  CHECK(pool.Trim(0).size() == 1);
  CHECK_FALSE(pool.HasFree());

  cuuint64_t value = 5;
  CHECK(pool.SetAttribute(CU_MEMPOOL_ATTR_USED_MEM_HIGH, &value) == CUDA_ERROR_INVALID_VALUE);
  CHECK(pool.SetAttribute(CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &value) == CUDA_ERROR_INVALID_VALUE);
  value = 0;
  CHECK(pool.SetAttribute(CU_MEMPOOL_ATTR_USED_MEM_HIGH, &value) == CUDA_SUCCESS);
  CHECK(Get(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH) == 0);
  value = 1 << 20;
  CHECK(pool.SetAttribute(CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &value) == CUDA_SUCCESS);
  CHECK(pool.release_threshold() == 1 << 20);
  CHECK(pool.GetAttribute(CU_MEMPOOL_ATTR_USED_MEM_HIGH, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("mem pool: clearing drops every block without giving any back") {
  MemPool pool(0, 0);
  pool.AddUsed(0x1000, 1024);
  pool.AddUsed(0x2000, 1024);
  REQUIRE(pool.Free(0x2000, kS, 1, 1));
  auto dropped = pool.Clear();
  CHECK(dropped.size() == 2);
  CHECK(Get(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 0);
  MemPool::Reuse reuse;
  CHECK_FALSE(pool.TakeFree(1024, kS, &reuse));
  CHECK_FALSE(pool.Free(0x1000, kS, 2, 2));
}

}  // namespace
}  // namespace gpupool::client
