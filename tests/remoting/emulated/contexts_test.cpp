// Primary and created contexts, the per-thread context stack, limits, flags and cache config.
#include <thread>

#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {

TEST_CASE("created contexts push, pop and destroy, the stack is per thread") {
  const DriverApi& api = Api();
  CUcontext primary = nullptr, created = nullptr, top = nullptr;
  CU_OK(api.cuCtxGetCurrent(&primary));
  REQUIRE(primary != nullptr);
  CU_OK(api.cuCtxCreate_v4(&created, nullptr, CU_CTX_SCHED_YIELD, 1));
  CU_OK(api.cuCtxGetCurrent(&top));
  CHECK(top == created);
  unsigned flags = 0;
  CU_OK(api.cuCtxGetFlags(&flags));
  CHECK(flags == CU_CTX_SCHED_YIELD);
  unsigned long long id_created = 0, id_primary = 0;
  CU_OK(api.cuCtxGetId(created, &id_created));
  CU_OK(api.cuCtxGetId(primary, &id_primary));
  CHECK(id_created != id_primary);

  // Another thread starts with no current context.
  std::thread other([&] {
    CUcontext seen = reinterpret_cast<CUcontext>(1);
    CHECK(api.cuCtxGetCurrent(&seen) == CUDA_SUCCESS);
    CHECK(seen == nullptr);
    CUdeviceptr p = 0;
    CHECK(api.cuMemAlloc_v2(&p, 16) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(api.cuCtxPushCurrent_v2(created) == CUDA_SUCCESS);
    CHECK(api.cuMemAlloc_v2(&p, 16) == CUDA_SUCCESS);
    CHECK(api.cuMemFree_v2(p) == CUDA_SUCCESS);
  });
  other.join();

  CUcontext popped = nullptr;
  CU_OK(api.cuCtxPopCurrent_v2(&popped));
  CHECK(popped == created);
  CU_OK(api.cuCtxGetCurrent(&top));
  CHECK(top == primary);
  CU_OK(api.cuCtxPushCurrent_v2(created));
  CUdeviceptr owned = 0;
  CU_OK(api.cuMemAlloc_v2(&owned, 4096));
  CUcontext owner = nullptr;
  CU_OK(api.cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, owned));
  CHECK(owner == created);
  CU_OK(api.cuCtxDestroy_v2(created));  // also leaves this thread's stack, and frees its memory
  int byte = 0;
  CHECK(api.cuMemcpyDtoH_v2(&byte, owned, 1) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuCtxGetCurrent(&top));
  CHECK(top == primary);
  CHECK(api.cuCtxDestroy_v2(created) == CUDA_ERROR_INVALID_CONTEXT);
  CHECK(api.cuCtxPushCurrent_v2(created) == CUDA_ERROR_INVALID_CONTEXT);
  CHECK(api.cuCtxDestroy_v2(primary) == CUDA_ERROR_INVALID_CONTEXT);
}

TEST_CASE("primary contexts are reference counted and keep their flags") {
  const DriverApi& api = Api();
  unsigned flags = 0;
  int active = -1;
  CU_OK(api.cuDevicePrimaryCtxGetState(1, &flags, &active));
  CHECK(active == 0);
  CU_OK(api.cuDevicePrimaryCtxSetFlags_v2(1, CU_CTX_SCHED_BLOCKING_SYNC));
  CHECK(api.cuDevicePrimaryCtxSetFlags_v2(1, 0x1000) == CUDA_ERROR_INVALID_VALUE);
  CUcontext a = nullptr, b = nullptr;
  CU_OK(api.cuDevicePrimaryCtxRetain(&a, 1));
  CU_OK(api.cuDevicePrimaryCtxRetain(&b, 1));
  CHECK(a == b);
  CU_OK(api.cuDevicePrimaryCtxGetState(1, &flags, &active));
  CHECK(active == 1);
  CHECK(flags == CU_CTX_SCHED_BLOCKING_SYNC);
  CU_OK(api.cuDevicePrimaryCtxRelease_v2(1));
  CU_OK(api.cuDevicePrimaryCtxGetState(1, &flags, &active));
  CHECK(active == 1);
  CU_OK(api.cuDevicePrimaryCtxRelease_v2(1));
  CU_OK(api.cuDevicePrimaryCtxGetState(1, &flags, &active));
  CHECK(active == 0);
  CHECK(api.cuDevicePrimaryCtxRelease_v2(1) == CUDA_ERROR_INVALID_CONTEXT);
  CHECK(api.cuCtxPushCurrent_v2(a) == CUDA_ERROR_INVALID_CONTEXT);  // inactive again
  CU_OK(api.cuDevicePrimaryCtxReset_v2(1));
  CU_OK(api.cuDevicePrimaryCtxGetState(1, &flags, &active));
  CHECK(flags == 0);
}

TEST_CASE("limits, cache configuration and flags of the current context") {
  const DriverApi& api = Api();
  size_t value = 0;
  CU_OK(api.cuCtxGetLimit(&value, CU_LIMIT_STACK_SIZE));
  CHECK(value == 1024);
  CU_OK(api.cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096));
  CU_OK(api.cuCtxGetLimit(&value, CU_LIMIT_STACK_SIZE));
  CHECK(value == 4096);
  CU_OK(api.cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 1024));
  CU_OK(api.cuCtxGetLimit(&value, CU_LIMIT_MALLOC_HEAP_SIZE));
  CHECK(value == 8u << 20);
  CHECK(api.cuCtxGetLimit(&value, static_cast<CUlimit>(0x42)) == CUDA_ERROR_UNSUPPORTED_LIMIT);
  CHECK(api.cuCtxSetLimit(CU_LIMIT_MAX_L2_FETCH_GRANULARITY, 48) == CUDA_ERROR_INVALID_VALUE);
  CUfunc_cache config = CU_FUNC_CACHE_PREFER_L1;
  CU_OK(api.cuCtxGetCacheConfig(&config));
  CHECK(config == CU_FUNC_CACHE_PREFER_NONE);
  CU_OK(api.cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED));
  CU_OK(api.cuCtxGetCacheConfig(&config));
  CHECK(config == CU_FUNC_CACHE_PREFER_SHARED);
  CU_OK(api.cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_NONE));
  unsigned version = 0;
  CU_OK(api.cuCtxGetApiVersion(nullptr, &version));
  CHECK(version > 0);
  CU_OK(api.cuCtxSynchronize());
}

}  // namespace gpupool::server::emulated_test
