// The DriverApi table as the emulated backend fills it, and the smaller calls not covered elsewhere.
#include <set>
#include <string>

#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {

TEST_CASE("every DriverApi entry is filled") {
  const DriverApi& api = Api();
  std::set<std::string> empty;
#define GPUPOOL_DRIVER_FN(symbol, pfn) \
  if (api.symbol == nullptr) empty.insert(#symbol);
#include "remoting/server/driver_functions.def"
#undef GPUPOOL_DRIVER_FN
  CHECK(empty == std::set<std::string>{});
}

TEST_CASE("stream-ordered allocation, peer async copies, context flags") {
  const DriverApi& api = Api();
  CUstream stream = nullptr;
  CU_OK(api.cuStreamCreate(&stream, 0));
  CUdeviceptr a = 0, b = 0;
  CU_OK(api.cuMemAllocAsync(&a, 1000, stream));
  CU_OK(api.cuMemAllocAsync(&b, 1000, stream));
  CU_OK(api.cuMemsetD8Async(a, 0x3c, 1000, stream));
  CUcontext ctx = nullptr;
  CU_OK(api.cuCtxGetCurrent(&ctx));
  CU_OK(api.cuMemcpyPeerAsync(b, ctx, a, ctx, 1000, stream));
  unsigned char last = 0;
  CU_OK(api.cuMemcpyDtoHAsync_v2(&last, b + 999, 1, stream));
  CU_OK(api.cuStreamSynchronize(stream));
  CHECK(last == 0x3c);
  CU_OK(api.cuMemFreeAsync(a, stream));
  CU_OK(api.cuMemFreeAsync(b, stream));
  CHECK(api.cuMemFreeAsync(b, stream) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuMemAllocAsync(&a, 10, reinterpret_cast<CUstream>(0x77)) == CUDA_ERROR_INVALID_HANDLE);
  CU_OK(api.cuStreamDestroy_v2(stream));

  CU_OK(api.cuCtxSetFlags(CU_CTX_SYNC_MEMOPS));
  unsigned flags = 0;
  CU_OK(api.cuCtxGetFlags(&flags));
  CHECK(flags == CU_CTX_SYNC_MEMOPS);
  CHECK(api.cuCtxSetFlags(0x100) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuCtxSetFlags(0));
  CU_OK(api.cuCtxResetPersistingL2Cache());
  CUmoduleLoadingMode mode = CU_MODULE_LAZY_LOADING;
  CU_OK(api.cuModuleGetLoadingMode(&mode));
  CHECK(mode == CU_MODULE_EAGER_LOADING);
  int value = 0;
  CHECK(api.cuDeviceGetP2PAttribute(&value, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 1) == CUDA_SUCCESS);
  CHECK(value == 1);
  CHECK(api.cuDeviceGetP2PAttribute(&value, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 0) ==
        CUDA_ERROR_INVALID_DEVICE);
}

}  // namespace gpupool::server::emulated_test
