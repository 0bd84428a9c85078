// Green contexts: SM resources split in groups of 8, descriptors, contexts and their streams.
#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {

TEST_CASE("SM resources split into groups and become green contexts") {
  const DriverApi& api = Api();
  CUdevResource all{};
  CU_OK(api.cuDeviceGetDevResource(0, &all, CU_DEV_RESOURCE_TYPE_SM));
  CHECK(all.type == CU_DEV_RESOURCE_TYPE_SM);
  CHECK(all.sm.smCount == 132);
  unsigned groups = 0;
  CU_OK(api.cuDevSmResourceSplitByCount(nullptr, &groups, &all, nullptr, 0, 16));
  CHECK(groups == 8);  // 132 / 16
  CUdevResource parts[3]{}, rest{};
  groups = 3;
  CU_OK(api.cuDevSmResourceSplitByCount(parts, &groups, &all, &rest, 0, 13));  // rounded up to 16
  CHECK(groups == 3);
  CHECK(parts[2].sm.smCount == 16);
  CHECK(rest.sm.smCount == 132 - 48);
  CHECK(api.cuDevSmResourceSplitByCount(parts, &groups, &all, &rest, 0, 200) ==
        CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);

  CUdevResourceDesc desc = nullptr;
  CU_OK(api.cuDevResourceGenerateDesc(&desc, parts, 2));
  CUgreenCtx green = nullptr;
  CHECK(api.cuGreenCtxCreate(&green, desc, 0, 0) ==
        CUDA_ERROR_INVALID_VALUE);  // default stream flag required
  CU_OK(api.cuGreenCtxCreate(&green, desc, 0, CU_GREEN_CTX_DEFAULT_STREAM));
  CUcontext ctx = nullptr, primary = nullptr;
  CU_OK(api.cuCtxFromGreenCtx(&ctx, green));
  CU_OK(api.cuCtxGetCurrent(&primary));
  CHECK(ctx != primary);
  CU_OK(api.cuCtxPushCurrent_v2(ctx));
  CUdeviceptr p = 0;
  CU_OK(api.cuMemAlloc_v2(&p, 100));
  CUstream stream = nullptr;
  CHECK(api.cuGreenCtxStreamCreate(&stream, green, 0, 0) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuGreenCtxStreamCreate(&stream, green, CU_STREAM_NON_BLOCKING, 0));
  CU_OK(api.cuMemsetD8Async(p, 1, 100, stream));
  CU_OK(api.cuGreenCtxDestroy(green));  // its stream and memory go with it
  CHECK(api.cuStreamQuery(stream) == CUDA_ERROR_INVALID_HANDLE);
  CUcontext top = nullptr;
  CU_OK(api.cuCtxGetCurrent(&top));
  CHECK(top == primary);
  unsigned char byte = 0;
  CHECK(api.cuMemcpyDtoH_v2(&byte, p, 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuGreenCtxDestroy(green) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(api.cuCtxFromGreenCtx(&ctx, green) == CUDA_ERROR_INVALID_HANDLE);
}

}  // namespace gpupool::server::emulated_test
