// Modules and libraries from real nvcc output (kernels.cu built for sm_90 at build time): kernel
// names, parameter layouts, resource attributes and device-backed globals, from the cubin, the
// fatbin and the PTX alike.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {
namespace {

std::vector<char> ReadImage(const std::string& name) {
  std::ifstream in(std::string(GPUPOOL_EMULATED_IMAGES) + "/" + name, std::ios::binary);
  REQUIRE(in.good());
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.push_back(0);  // PTX text must be NUL-terminated
  return bytes;
}

struct Layout {
  const char* kernel;
  std::vector<std::pair<size_t, size_t>> params;  // offset, size
};

// What kernels.cu declares, laid out by the CUDA ABI.
const std::vector<Layout>& Expected() {
  static const std::vector<Layout> layouts = {
      {"k_empty", {}},
      {"k_ptrs", {{0, 8}, {8, 8}, {16, 4}}},
      {"k_mixed", {{0, 1}, {8, 8}, {16, 2}, {24, 24}, {48, 8}}},
      {"k_shared", {{0, 24}, {24, 4}, {32, 8}}},
      {"k_bounded", {{0, 8}}},
      {"k_big", {{0, 4096}, {4096, 8}}},
      {"k_huge", {{0, 32000}, {32000, 4}}},
      {"k_many",
       {{0, 4},
        {4, 4},
        {8, 4},
        {12, 4},
        {16, 4},
        {20, 4},
        {24, 4},
        {28, 4},
        {32, 1},
        {40, 8},
        {48, 4},
        {56, 8}}},
      {"_Z10cpp_kerneliPf", {{0, 4}, {8, 8}}},
  };
  return layouts;
}

void CheckLayouts(const DriverApi& api, CUmodule module) {
  unsigned count = 0;
  CU_OK(api.cuModuleGetFunctionCount(&count, module));
  CHECK(count == Expected().size());
  for (const Layout& layout : Expected()) {
    INFO("kernel " << layout.kernel);
    CUfunction f = nullptr;
    REQUIRE(api.cuModuleGetFunction(&f, module, layout.kernel) == CUDA_SUCCESS);
    const char* name = nullptr;
    CU_OK(api.cuFuncGetName(&name, f));
    CHECK(std::string(name) == layout.kernel);
    for (size_t i = 0; i < layout.params.size(); ++i) {
      size_t offset = 0, size = 0;
      CU_OK(api.cuFuncGetParamInfo(f, i, &offset, &size));
      CHECK(offset == layout.params[i].first);
      CHECK(size == layout.params[i].second);
    }
    size_t offset = 0, size = 0;
    CHECK(api.cuFuncGetParamInfo(f, layout.params.size(), &offset, &size) == CUDA_ERROR_INVALID_VALUE);
  }
  CUfunction missing = nullptr;
  CHECK(api.cuModuleGetFunction(&missing, module, "no_such_kernel") == CUDA_ERROR_NOT_FOUND);
}

}  // namespace

TEST_CASE("kernel names and parameter layouts from a cubin, a fatbin and PTX") {
  const DriverApi& api = Api();
  for (const char* file : {"kernels.cubin", "kernels_debug.cubin", "kernels.fatbin", "kernels.ptx"}) {
    INFO(file);
    const auto image = ReadImage(file);
    CUmodule module = nullptr;
    CUjit_option option = CU_JIT_MAX_REGISTERS;  // JIT options are accepted and have nothing to steer
    void* value = reinterpret_cast<void*>(std::uintptr_t{64});
    REQUIRE(api.cuModuleLoadDataEx(&module, image.data(), 1, &option, &value) == CUDA_SUCCESS);
    CheckLayouts(api, module);
    CU_OK(api.cuModuleUnload(module));
  }
}

TEST_CASE("a fatbin holding only PTX, compressed by nvcc, is decompressed and parsed") {
  const DriverApi& api = Api();
  const auto image = ReadImage("kernels_compressed.fatbin");
  std::uint64_t flags = 0;
  std::memcpy(&flags, image.data() + 16 + 40, sizeof(flags));  // the first entry's flags
  INFO("entry flags " << flags);
  CHECK((flags & 0x8000) != 0);  // nvcc 12.8+ compresses PTX with zstd by default
  CUmodule module = nullptr;
  REQUIRE(api.cuModuleLoadData(&module, image.data()) == CUDA_SUCCESS);
  CheckLayouts(api, module);
  CU_OK(api.cuModuleUnload(module));
}

TEST_CASE("static shared memory excludes the reserved kilobyte, in optimised and debug cubins") {
  const DriverApi& api = Api();
  for (const char* file : {"kernels.cubin", "kernels_debug.cubin"}) {
    INFO(file);
    const auto image = ReadImage(file);
    CUmodule module = nullptr;
    CU_OK(api.cuModuleLoadData(&module, image.data()));
    CUfunction shared = nullptr, empty = nullptr;
    CU_OK(api.cuModuleGetFunction(&shared, module, "k_shared"));
    CU_OK(api.cuModuleGetFunction(&empty, module, "k_empty"));
    int value = -1;
    CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, shared));
    CHECK(value == 2048);  // float tile[512]
    CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, empty));
    CHECK(value == 0);
    CU_OK(api.cuModuleUnload(module));
  }
}

TEST_CASE("function attributes from the cubin") {
  const DriverApi& api = Api();
  const auto image = ReadImage("kernels.cubin");
  CUmodule module = nullptr;
  CU_OK(api.cuModuleLoadFatBinary(&module, image.data()));
  CUfunction ptrs = nullptr, shared = nullptr, bounded = nullptr;
  CU_OK(api.cuModuleGetFunction(&ptrs, module, "k_ptrs"));
  CU_OK(api.cuModuleGetFunction(&shared, module, "k_shared"));
  CU_OK(api.cuModuleGetFunction(&bounded, module, "k_bounded"));
  int value = 0;
  CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_NUM_REGS, ptrs));
  CHECK(value > 0);
  CHECK(value <= 255);
  CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, ptrs));
  CHECK(value == 1024);
  CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, bounded));
  CHECK(value == 256);
  CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, shared));
  CHECK(value == 2048);
  CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, shared));
  CHECK(value == 49152 - 2048);
  CU_OK(api.cuFuncSetAttribute(shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 100000));
  CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, shared));
  CHECK(value == 100000);
  CHECK(api.cuFuncSetAttribute(shared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 232448) ==
        CUDA_ERROR_INVALID_VALUE);  // over the opt-in limit with the static 2 KiB
  CHECK(api.cuFuncSetAttribute(shared, CU_FUNC_ATTRIBUTE_NUM_REGS, 10) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_BINARY_VERSION, ptrs));
  CHECK(value == 90);
  CU_OK(api.cuFuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES, ptrs));
  CHECK(value >= 64);  // c_coeffs

  // Occupancy: threads bound k_ptrs at 256 threads per block; shared memory bounds k_shared.
  int blocks = 0;
  CU_OK(api.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, ptrs, 256, 0));
  CHECK(blocks == 8);
  CU_OK(api.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, shared, 32, 40000));
  CHECK(blocks == 233472 / (2048 + 40000 + 1024));
  CU_OK(api.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, bounded, 512, 0));
  CHECK(blocks == 0);
  size_t available = 0;
  CU_OK(api.cuOccupancyAvailableDynamicSMemPerBlock(&available, shared, 2, 128));
  CHECK(available == 100000);  // capped by the function's attribute
  CUmodule owner = nullptr;
  CU_OK(api.cuFuncGetModule(&owner, ptrs));
  CHECK(owner == module);
  CUlaunchConfig config{};
  config.gridDimX = config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 256;
  config.blockDimY = config.blockDimZ = 1;
  int cluster = 0;
  CU_OK(api.cuOccupancyMaxPotentialClusterSize(&cluster, ptrs, &config));
  CHECK(cluster == 8);
  CU_OK(api.cuOccupancyMaxActiveClusters(&cluster, ptrs, &config));
  CHECK(cluster == 8 * 132);
  CU_OK(api.cuFuncSetCacheConfig(ptrs, CU_FUNC_CACHE_PREFER_L1));
  CHECK(api.cuFuncSetCacheConfig(ptrs, static_cast<CUfunc_cache>(9)) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuFuncLoad(ptrs));
  CUfunctionLoadingState state = CU_FUNCTION_LOADING_STATE_UNLOADED;
  CU_OK(api.cuFuncIsLoaded(&state, ptrs));
  CHECK(state == CU_FUNCTION_LOADING_STATE_LOADED);
  unsigned count = 0;
  CU_OK(api.cuModuleGetFunctionCount(&count, module));
  std::vector<CUfunction> all(count);
  CU_OK(api.cuModuleEnumerateFunctions(all.data(), count, module));
  CHECK(std::find(all.begin(), all.end(), ptrs) != all.end());
  CHECK(api.cuModuleEnumerateFunctions(all.data(), count + 1, module) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuModuleUnload(module));
}

TEST_CASE("globals are device memory: initial values, writes, sizes") {
  const DriverApi& api = Api();
  const char* file = GENERATE("kernels.fatbin", "kernels.ptx");
  INFO(file);
  const auto image = ReadImage(file);
  CUmodule module = nullptr;
  CU_OK(api.cuModuleLoadData(&module, image.data()));
  CUdeviceptr table = 0, counter = 0, coeffs = 0;
  size_t size = 0;
  CU_OK(api.cuModuleGetGlobal_v2(&table, &size, module, "g_table"));
  CHECK(size == 400);
  float first[4] = {};
  CU_OK(api.cuMemcpyDtoH_v2(first, table, sizeof(first)));
  CHECK(first[0] == 1.0f);
  CHECK(first[1] == 2.0f);
  CHECK(first[2] == 3.0f);
  CHECK(first[3] == 0.0f);
  CU_OK(api.cuModuleGetGlobal_v2(&counter, &size, module, "g_counter"));
  CHECK(size == 4);
  CU_OK(api.cuModuleGetGlobal_v2(&coeffs, &size, module, "c_coeffs"));
  CHECK(size == 64);
  const int values[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  CU_OK(api.cuMemcpyHtoD_v2(coeffs, values, sizeof(values)));  // what cudaMemcpyToSymbol does
  int back[16] = {};
  CU_OK(api.cuMemcpyDtoH_v2(back, coeffs, sizeof(back)));
  CHECK(std::memcmp(values, back, sizeof(values)) == 0);
  CHECK(api.cuMemcpyHtoD_v2(coeffs, values, sizeof(values) + 1) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.cuModuleGetGlobal_v2(&coeffs, &size, module, "nope") == CUDA_ERROR_NOT_FOUND);
  CU_OK(api.cuModuleUnload(module));
  CHECK(api.cuMemcpyDtoH_v2(back, coeffs, 4) == CUDA_ERROR_INVALID_VALUE);  // freed with the module
}

TEST_CASE("libraries: kernels, modules, globals") {
  const DriverApi& api = Api();
  const auto image = ReadImage("kernels.fatbin");
  CUlibrary library = nullptr;
  CU_OK(api.cuLibraryLoadData(&library, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  unsigned count = 0;
  CU_OK(api.cuLibraryGetKernelCount(&count, library));
  CHECK(count == Expected().size());
  std::vector<CUkernel> kernels(count);
  CU_OK(api.cuLibraryEnumerateKernels(kernels.data(), count, library));
  CUkernel kernel = nullptr;
  CU_OK(api.cuLibraryGetKernel(&kernel, library, "k_mixed"));
  CHECK(std::find(kernels.begin(), kernels.end(), kernel) != kernels.end());
  size_t offset = 0, size = 0;
  CU_OK(api.cuKernelGetParamInfo(kernel, 3, &offset, &size));
  CHECK(offset == 24);
  CHECK(size == 24);
  const char* name = nullptr;
  CU_OK(api.cuKernelGetName(&name, kernel));
  CHECK(std::string(name) == "k_mixed");
  CUfunction f = nullptr;
  CU_OK(api.cuKernelGetFunction(&f, kernel));
  CU_OK(api.cuFuncGetParamInfo(f, 4, &offset, &size));
  CHECK(offset == 48);
  int regs = 0;
  CU_OK(api.cuKernelGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, kernel, 0));
  CHECK(regs > 0);
  CUmodule module = nullptr;
  CU_OK(api.cuLibraryGetModule(&module, library));
  CHECK(api.cuModuleUnload(module) == CUDA_ERROR_INVALID_HANDLE);  // the library owns it
  CUdeviceptr table = 0;
  CU_OK(api.cuLibraryGetGlobal(&table, &size, library, "g_table"));
  CHECK(size == 400);
  CUdeviceptr managed = 0;  // the emulated device keeps a __managed__ variable as a global
  CU_OK(api.cuLibraryGetManaged(&managed, &size, library, "g_table"));
  CHECK(managed == table);
  CHECK(size == 400);
  CHECK(api.cuLibraryGetManaged(&managed, &size, library, "no_such_variable") == CUDA_ERROR_NOT_FOUND);
  CU_OK(api.cuLibraryUnload(library));
  CHECK(api.cuLibraryGetKernel(&kernel, library, "k_mixed") == CUDA_ERROR_INVALID_HANDLE);
  CHECK(api.cuKernelGetName(&name, kernel) == CUDA_ERROR_INVALID_HANDLE);
}

}  // namespace gpupool::server::emulated_test
