// The built libcuda.so.1 itself, loaded with dlopen (no server needed): its exports, the
// cuGetProcAddress table against the exported symbols, unsupported stubs and error names.
#include <dlfcn.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "tests/support/process.h"

namespace gpupool {
namespace {

using GetProcAddressFn = int (*)(const char*, void**, int, unsigned long long, int*);

void* Library() {
  static void* handle = dlopen((testing::LibDir() + "/libcuda.so.1").c_str(), RTLD_NOW | RTLD_LOCAL);
  return handle;
}

TEST_CASE("cuGetProcAddress returns the exported symbol of each ABI variant") {
  REQUIRE(Library() != nullptr);
  auto get = reinterpret_cast<GetProcAddressFn>(dlsym(Library(), "cuGetProcAddress_v2"));
  REQUIRE(get != nullptr);
  struct Case {
    const char* base;
    int version;
    unsigned long long flags;
    const char* symbol;
  };
  const Case cases[] = {
      {"cuInit", 13000, 0, "cuInit"},
      {"cuMemAlloc", 13000, 0, "cuMemAlloc_v2"},
      {"cuMemcpyHtoD", 13000, 0, "cuMemcpyHtoD_v2"},
      {"cuMemcpyHtoD", 13000, 2, "cuMemcpyHtoD_v2_ptds"},
      {"cuMemcpyHtoDAsync", 13000, 2, "cuMemcpyHtoDAsync_v2_ptsz"},
      {"cuLaunchKernel", 13000, 2, "cuLaunchKernel_ptsz"},
      {"cuLaunchKernel", 13000, 1, "cuLaunchKernel"},
      {"cuCtxCreate", 12000, 0, "cuCtxCreate_v3"},
      {"cuCtxCreate", 13000, 0, "cuCtxCreate_v4"},
      {"cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2"},
      {"cuGetProcAddress", 11030, 0, "cuGetProcAddress"},
      {"cuEventElapsedTime", 13000, 0, "cuEventElapsedTime_v2"},
      {"cuDevicePrimaryCtxRelease", 13000, 0, "cuDevicePrimaryCtxRelease_v2"},
      {"cuStreamSynchronize", 13000, 2, "cuStreamSynchronize_ptsz"},
      {"cuMemsetD8", 13000, 0, "cuMemsetD8_v2"},
      {"cuMemcpy3D", 13000, 0, "cuMemcpy3D_v2"},
      {"cuMemcpy3DAsync", 13000, 2, "cuMemcpy3DAsync_v2_ptsz"},
      {"cuGraphAddKernelNode", 11000, 0, "cuGraphAddKernelNode"},
      {"cuGraphAddKernelNode", 13000, 0, "cuGraphAddKernelNode_v2"},
      {"cuGraphGetEdges", 12000, 0, "cuGraphGetEdges"},
      {"cuGraphGetEdges", 13000, 0, "cuGraphGetEdges_v2"},
      {"cuGraphInstantiate", 11000, 0, "cuGraphInstantiate_v2"},
      {"cuGraphUpload", 13000, 2, "cuGraphUpload_ptsz"},
      {"cuLibraryGetKernelCount", 13000, 0, "cuLibraryGetKernelCount"},
      {"cuLibraryEnumerateKernels", 13000, 0, "cuLibraryEnumerateKernels"},
      {"cuModuleGetFunctionCount", 13000, 0, "cuModuleGetFunctionCount"},
      {"cuModuleEnumerateFunctions", 13000, 0, "cuModuleEnumerateFunctions"},
      {"cuFuncGetName", 13000, 0, "cuFuncGetName"},
      {"cuKernelGetName", 13000, 0, "cuKernelGetName"},
      {"cuLibraryGetManaged", 13000, 0, "cuLibraryGetManaged"},
      {"cuGraphAddNode", 12020, 0, "cuGraphAddNode"},
      {"cuGraphAddNode", 13000, 0, "cuGraphAddNode_v2"},
      {"cuThreadExchangeStreamCaptureMode", 13000, 0, "cuThreadExchangeStreamCaptureMode"},
      {"cuGraphAddMemAllocNode", 13000, 0, "cuGraphAddMemAllocNode"},
  };
  for (const Case& c : cases) {
    INFO(c.base << " " << c.version << " flags " << c.flags);
    void* pfn = nullptr;
    int status = -1;
    CHECK(get(c.base, &pfn, c.version, c.flags, &status) == 0);
    CHECK(status == 0);
    CHECK(pfn == dlsym(Library(), c.symbol));
  }
  // A function gpupool only stubs resolves to its stub (so the runtime reports cudaErrorNotSupported, not
  // cudaErrorCallRequiresNewerDriver); a name the driver does not have is CUDA_ERROR_NOT_FOUND.
  void* pfn = nullptr;
  int status = -1;
  CHECK(get("cuGraphAddBatchMemOpNode", &pfn, 13000, 0, &status) == 0);
  CHECK(status == 0);
  CHECK(pfn == dlsym(Library(), "cuGraphAddBatchMemOpNode"));
  CHECK(get("cuNoSuchFunction", &pfn, 13000, 0, &status) == 500);  // CUDA_ERROR_NOT_FOUND
  CHECK(pfn == nullptr);
}

TEST_CASE("unsupported driver functions are exported and answer CUDA_ERROR_NOT_SUPPORTED") {
  REQUIRE(Library() != nullptr);
  for (const char* name : {"cuGraphAddBatchMemOpNode", "cuImportExternalMemory", "cuArrayGetPlane"}) {
    INFO(name);
    auto fn = reinterpret_cast<int (*)()>(dlsym(Library(), name));
    REQUIRE(fn != nullptr);
    CHECK(fn() == 801);
  }
}

TEST_CASE("only the driver API and dlsym are exported") {
  REQUIRE(Library() != nullptr);
  // Internal C++ symbols stay local: nothing of ours can clash with the program's.
  CHECK(dlsym(Library(), "_ZN7gpupool6client5State3GetEv") == nullptr);
  CHECK(dlsym(Library(), "cuGetExportTable") != nullptr);
}

TEST_CASE("calls before cuInit fail with CUDA_ERROR_NOT_INITIALIZED, versions and names work") {
  REQUIRE(Library() != nullptr);
  auto count = reinterpret_cast<int (*)(int*)>(dlsym(Library(), "cuDeviceGetCount"));
  auto version = reinterpret_cast<int (*)(int*)>(dlsym(Library(), "cuDriverGetVersion"));
  auto name = reinterpret_cast<int (*)(int, const char**)>(dlsym(Library(), "cuGetErrorName"));
  int n = -1;
  CHECK(count(&n) == 3);
  CHECK(version(&n) == 0);
  CHECK(n == 13000);
  const char* text = nullptr;
  CHECK(name(801, &text) == 0);
  CHECK(std::string(text) == "CUDA_ERROR_NOT_SUPPORTED");
}

}  // namespace
}  // namespace gpupool
