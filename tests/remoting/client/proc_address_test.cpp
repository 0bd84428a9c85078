#include "remoting/client/proc_address.h"

#include <catch2/catch.hpp>

namespace gpupool::client {
namespace {

int f[8];
// A small table with the shapes the real one has: 32-bit-era gaps, _v2/_v3, per-thread variants.
const ProcVariant kVariants[] = {
    {"cuMemcpyHtoD", "cuMemcpyHtoD_v2", 3020, StreamKind::kLegacy, &f[0]},
    {"cuMemcpyHtoD", "cuMemcpyHtoD_v2_ptds", 7000, StreamKind::kPerThread, &f[1]},
    {"cuCtxCreate", "cuCtxCreate_v2", 3020, StreamKind::kLegacy, &f[2]},
    {"cuCtxCreate", "cuCtxCreate_v3", 11040, StreamKind::kLegacy, &f[3]},
    {"cuCtxCreate", "cuCtxCreate_v4", 12050, StreamKind::kLegacy, &f[4]},
    {"cuLaunchKernelEx", "cuLaunchKernelEx", 11060, StreamKind::kLegacy, &f[5]},
    {"cuLaunchKernelEx", "cuLaunchKernelEx_ptsz", 11060, StreamKind::kPerThread, &f[6]},
};
const ProcTable kTable{kVariants, 7};

TEST_CASE("cuGetProcAddress picks the variant for the caller's version and stream mode") {
  struct Case {
    const char* name;
    int version;
    cuuint64_t flags;
    CUresult result;
    CUdriverProcAddressQueryResult status;
    void* expected;
  };
  const Case cases[] = {
      {"cuMemcpyHtoD", 13000, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS, &f[0]},
      {"cuMemcpyHtoD", 13000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, CUDA_SUCCESS,
       CU_GET_PROC_ADDRESS_SUCCESS, &f[1]},
      {"cuMemcpyHtoD", 6050, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, CUDA_SUCCESS,
       CU_GET_PROC_ADDRESS_SUCCESS, &f[0]},
      {"cuMemcpyHtoD", 13000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS,
       &f[0]},
      {"cuMemcpyHtoD", 2000, 0, CUDA_ERROR_NOT_FOUND, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT, nullptr},
      {"cuCtxCreate", 3020, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS, &f[2]},
      {"cuCtxCreate", 12000, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS, &f[3]},
      {"cuCtxCreate", 12050, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS, &f[4]},
      {"cuCtxCreate", 13000, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS, &f[4]},
      {"cuLaunchKernelEx", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, CUDA_SUCCESS,
       CU_GET_PROC_ADDRESS_SUCCESS, &f[6]},
      {"cuLaunchKernelEx", 12000, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS, &f[5]},
      {"cuNoSuchThing", 13000, 0, CUDA_ERROR_NOT_FOUND, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, nullptr},
      {"cuMemcpyHtoD_v2", 13000, 0, CUDA_ERROR_NOT_FOUND, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, nullptr},
  };
  for (const Case& c : cases) {
    INFO(c.name << " version " << c.version << " flags " << c.flags);
    void* pfn = &f[7];
    CUdriverProcAddressQueryResult status{};
    CHECK(GetProcAddress(kTable, c.name, &pfn, c.version, c.flags, &status) == c.result);
    CHECK(status == c.status);
    CHECK(pfn == c.expected);
  }
}

TEST_CASE("cuGetProcAddress answers a function gpupool only stubs with its stub, not NOT_FOUND") {
  int stub[2];
  // unsupported.def holds exported names, among them the 32-bit-era cuMemcpyHtoD.
  const ProcVariant unsupported[] = {
      {"cuIpcGetMemHandle", "cuIpcGetMemHandle", 0, StreamKind::kLegacy, &stub[0]},
      {"cuMemcpyHtoD", "cuMemcpyHtoD", 0, StreamKind::kLegacy, &stub[1]},
  };
  const ProcTable table{kVariants, 7, unsupported, 2};
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult status{};
  // The runtime then reports cudaErrorNotSupported and the stub logs the name.
  CHECK(GetProcAddress(table, "cuIpcGetMemHandle", &pfn, 4010, 0, &status) == CUDA_SUCCESS);
  CHECK(status == CU_GET_PROC_ADDRESS_SUCCESS);
  CHECK(pfn == &stub[0]);
  CHECK(GetProcAddress(table, "cuIpcGetMemHandle", &pfn, 13000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                       &status) == CUDA_SUCCESS);
  CHECK(pfn == &stub[0]);
  // An implemented function asked at a version before its first variant is still too old.
  CHECK(GetProcAddress(table, "cuMemcpyHtoD", &pfn, 2000, 0, &status) == CUDA_ERROR_NOT_FOUND);
  CHECK(status == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  CHECK(pfn == nullptr);
  CHECK(GetProcAddress(table, "cuMemcpyHtoD", &pfn, 13000, 0, &status) == CUDA_SUCCESS);
  CHECK(pfn == &f[0]);
  CHECK(GetProcAddress(table, "cuNoSuchThing", &pfn, 13000, 0, &status) == CUDA_ERROR_NOT_FOUND);
  CHECK(status == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
}

TEST_CASE("cuGetProcAddress rejects null arguments and unknown flags") {
  void* pfn = nullptr;
  CHECK(GetProcAddress(kTable, nullptr, &pfn, 13000, 0, nullptr) == CUDA_ERROR_INVALID_VALUE);
  CHECK(GetProcAddress(kTable, "cuCtxCreate", nullptr, 13000, 0, nullptr) == CUDA_ERROR_INVALID_VALUE);
  CHECK(GetProcAddress(kTable, "cuCtxCreate", &pfn, 13000, 1u << 7, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace gpupool::client
