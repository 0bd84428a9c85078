// Module load and launches with many parameter shapes. For every launch it prints
//   EXPECT <kernel> <grid x,y,z> <block x,y,z> <parameter bytes in hex>
// with the bytes packed independently from the C layout of the kernel's parameters, so the test can
// compare them with what the server recorded (--record-launches). Invalid configurations must fail
// at the call and never reach the server. Usage: driver_launch KERNELS.fatbin
// The deprecated launch API is used on purpose below.
#define CUDA_ENABLE_DEPRECATED 1
#include <algorithm>
#include <cstring>
#include <string>

#include "check.h"
#include "kernel_params.h"

namespace {

using drv::Hex;

// Every kernel of driver_kernels.cu, sorted.
const std::vector<std::string> kKernelNames = {"k_big",  "k_char_double", "k_int",  "k_largest",
                                               "k_none", "k_ptr_size",    "k_spin", "k_structs"};

// The sorted names of `handles` (enumerated functions or kernels), through `get_name`.
template <typename Handle>
std::vector<std::string> Names(const std::vector<Handle>& handles,
                               CUresult (*get_name)(const char**, Handle)) {
  std::vector<std::string> names;
  for (Handle h : handles) {
    const char* name = nullptr;
    if (CU_OK(get_name(&name, h)) && name != nullptr) names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Packs `values` (pointer, size) at `offsets` into a zeroed buffer of `total` bytes.
std::vector<unsigned char> Pack(std::size_t total,
                                const std::vector<std::pair<const void*, std::size_t>>& values,
                                const std::vector<std::size_t>& offsets) {
  std::vector<unsigned char> out(total, 0);
  for (std::size_t i = 0; i < values.size(); ++i)
    std::memcpy(&out[offsets[i]], values[i].first, values[i].second);
  return out;
}

void Expect(const char* kernel, unsigned grid, unsigned block, const std::vector<unsigned char>& bytes) {
  std::printf("EXPECT %s %u,1,1 %u,1,1 %s\n", kernel, grid, block, Hex(bytes.data(), bytes.size()).c_str());
}

// Launches `name` with kernelParams and checks the layout the driver reports against ours.
void LaunchChecked(CUmodule module, const char* name,
                   const std::vector<std::pair<const void*, std::size_t>>& values,
                   const std::vector<std::size_t>& offsets, std::size_t total, unsigned grid,
                   unsigned block) {
  CUfunction f = nullptr;
  if (!CU_OK(cuModuleGetFunction(&f, module, name))) return;
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    std::size_t offset = 0, size = 0;
    CU_OK(cuFuncGetParamInfo(f, i, &offset, &size));
    CHECK_TRUE(offset == offsets[i] && size == values[i].second);
  }
  CU_EXPECT(cuFuncGetParamInfo(f, offsets.size(), nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
  std::vector<void*> params;
  for (const auto& v : values) params.push_back(const_cast<void*>(v.first));
  if (CU_OK(cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, nullptr, params.empty() ? nullptr : params.data(),
                           nullptr))) {
    Expect(name, grid, block, Pack(total, values, offsets));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string image = drv::KernelsArgument(argc, argv, "driver_launch");
  CHECK_TRUE(!image.empty());
  drv::Start();
  CUmodule module = nullptr;
  if (!CU_OK(cuModuleLoadData(&module, image.data()))) return drv::Verdict("driver_launch");

  int v = 0x12345678;
  char c = 'q';
  double d = 3.25;
  CUdeviceptr p = 0;
  CU_OK(cuMemAlloc(&p, 1024));
  unsigned long long n = 256;
  Small s{'a', 0x1234, -5};
  Mixed m{'z', -1.5, {1.f, 2.f, 3.f}};
  static unsigned char big[4096], largest[32760];
  for (std::size_t i = 0; i < sizeof largest; ++i) largest[i] = static_cast<unsigned char>(i * 7);
  for (std::size_t i = 0; i < sizeof big; ++i) big[i] = static_cast<unsigned char>(i * 3);

  LaunchChecked(module, "k_none", {}, {}, 0, 1, 1);
  LaunchChecked(module, "k_int", {{&v, 4}}, {0}, 4, 2, 32);
  LaunchChecked(module, "k_char_double", {{&c, 1}, {&d, 8}}, {0, 8}, 16, 3, 64);
  LaunchChecked(module, "k_ptr_size", {{&p, 8}, {&n, 8}}, {0, 8}, 16, 1, 256);
  LaunchChecked(module, "k_structs", {{&s, sizeof s}, {&c, 1}, {&m, sizeof m}}, {0, 8, 16}, 48, 4, 128);
  LaunchChecked(module, "k_big", {{big, sizeof big}, {&v, 4}}, {0, 4096}, 4100, 1, 1);
  LaunchChecked(module, "k_largest", {{largest, sizeof largest}, {&v, 4}}, {0, 32760}, 32764, 1, 1024);

  // The `extra` form: the program's own packed buffer.
  CUfunction f = nullptr;
  CU_OK(cuModuleGetFunction(&f, module, "k_char_double"));
  auto packed = Pack(16, {{&c, 1}, {&d, 8}}, {0, 8});
  std::size_t size = packed.size();
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, packed.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   CU_LAUNCH_PARAM_END};
  if (CU_OK(cuLaunchKernel(f, 5, 1, 1, 1, 1, 1, 0, nullptr, nullptr, extra)))
    Expect("k_char_double", 5, 1, packed);
  // A buffer shorter than the kernel's parameters, as NCCL passes one (the used part of a 4 KiB
  // structure): the driver accepts it; the emulated device records zeros for the rest.
  CUfunction fb = nullptr;
  CU_OK(cuModuleGetFunction(&fb, module, "k_big"));
  std::vector<unsigned char> head(big, big + 100);
  std::size_t head_size = head.size();
  void* short_extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, head.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &head_size,
                         CU_LAUNCH_PARAM_END};
  if (CU_OK(cuLaunchKernel(fb, 2, 1, 1, 1, 1, 1, 0, nullptr, nullptr, short_extra))) {
    head.resize(4100, 0);
    Expect("k_big", 2, 1, head);
  }

  // cuLaunchKernelEx with an attribute, on a stream.
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, 0));

  // The deprecated launch API (CUDA 1.x), which old programs still use: shape, shared memory and
  // parameter bytes set by separate calls, then cuLaunch / cuLaunchGrid(Async).
  CU_OK(cuParamSetSize(f, 16));
  CU_OK(cuParamSetv(f, 0, &c, 1));
  CU_OK(cuParamSetv(f, 8, &d, 8));
  CU_EXPECT(cuParamSetv(f, 12, &d, 8), CUDA_ERROR_INVALID_VALUE);  // past the size set
  CU_OK(cuFuncSetBlockShape(f, 4, 2, 1));
  CU_OK(cuFuncSetSharedSize(f, 0));
  if (CU_OK(cuLaunchGrid(f, 3, 2)))
    std::printf("EXPECT k_char_double 3,2,1 4,2,1 %s\n", Hex(packed.data(), packed.size()).c_str());
  CUfunction legacy_int = nullptr;
  CU_OK(cuModuleGetFunction(&legacy_int, module, "k_int"));
  CU_EXPECT(cuLaunch(legacy_int), CUDA_ERROR_INVALID_VALUE);  // no block shape yet
  CU_OK(cuParamSetSize(legacy_int, 4));
  CU_OK(cuParamSeti(legacy_int, 0, 0x01020304u));
  CU_OK(cuFuncSetBlockShape(legacy_int, 32, 1, 1));
  const unsigned char int_bytes[] = {4, 3, 2, 1};
  if (CU_OK(cuLaunch(legacy_int))) Expect("k_int", 1, 32, {int_bytes, int_bytes + 4});
  CU_OK(cuParamSetf(legacy_int, 0, 1.5f));  // the same four bytes as a float
  float as_float = 1.5f;
  std::vector<unsigned char> float_bytes(4);
  std::memcpy(float_bytes.data(), &as_float, 4);
  if (CU_OK(cuLaunchGridAsync(legacy_int, 2, 1, stream))) Expect("k_int", 2, 32, float_bytes);
  CU_OK(cuStreamSynchronize(stream));
  CUlaunchAttribute attribute{};
  attribute.id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
  attribute.value.priority = 0;
  CUlaunchConfig config{};
  config.gridDimX = config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 96;
  config.blockDimY = config.blockDimZ = 1;
  config.hStream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  CUfunction fi = nullptr;
  CU_OK(cuModuleGetFunction(&fi, module, "k_int"));
  void* int_params[] = {&v};
  if (CU_OK(cuLaunchKernelEx(&config, fi, int_params, nullptr)))
    Expect("k_int", 1, 96, Pack(4, {{&v, 4}}, {0}));
  // A cooperative launch (cudaLaunchCooperativeKernel): cuLaunchKernelEx with the attribute.
  if (CU_OK(cuLaunchCooperativeKernel(fi, 2, 1, 1, 64, 1, 1, 0, stream, int_params)))
    Expect("k_int", 2, 64, Pack(4, {{&v, 4}}, {0}));
  // What a function knows of itself.
  const char* name = nullptr;
  CU_OK(cuFuncGetName(&name, fi));
  CHECK_TRUE(name != nullptr && std::string(name) == "k_int");
  CUfunctionLoadingState loading = CU_FUNCTION_LOADING_STATE_UNLOADED;
  CU_OK(cuFuncIsLoaded(&loading, fi));
  CHECK_TRUE(loading == CU_FUNCTION_LOADING_STATE_LOADED);
  CUmodule owner = nullptr;
  CU_OK(cuFuncGetModule(&owner, fi));
  CHECK_TRUE(owner == module);

  // Invalid configurations fail at the call.
  CU_EXPECT(cuLaunchKernel(fi, 1, 1, 1, 1025, 1, 1, 0, nullptr, int_params, nullptr),
            CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuLaunchKernel(fi, 0, 1, 1, 1, 1, 1, 0, nullptr, int_params, nullptr), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuLaunchKernel(fi, 1, 65536, 1, 1, 1, 1, 0, nullptr, int_params, nullptr),
            CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuLaunchKernel(fi, 1, 1, 1, 1, 1, 1, 1u << 20, nullptr, int_params, nullptr),
            CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(
      cuLaunchKernel(reinterpret_cast<CUfunction>(&v), 1, 1, 1, 1, 1, 1, 0, nullptr, int_params, nullptr),
      CUDA_ERROR_INVALID_HANDLE);

  // Globals: written and read back through their device address.
  CUdeviceptr counter = 0;
  std::size_t counter_bytes = 0;
  CU_OK(cuModuleGetGlobal(&counter, &counter_bytes, module, "g_counter"));
  CHECK_TRUE(counter_bytes == sizeof(int));
  int written = 77, read = 0;
  CU_OK(cuMemcpyHtoD(counter, &written, sizeof written));
  CU_OK(cuMemcpyDtoH(&read, counter, sizeof read));
  CHECK_TRUE(read == 77);
  CUfunction missing = nullptr;
  CU_EXPECT(cuModuleGetFunction(&missing, module, "k_does_not_exist"), CUDA_ERROR_NOT_FOUND);

  // The library API, and a CUkernel launched where a CUfunction goes (as the runtime does).
  CUlibrary library = nullptr;
  if (CU_OK(cuLibraryLoadData(&library, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0))) {
    CUkernel kernel = nullptr;
    CU_OK(cuLibraryGetKernel(&kernel, library, "k_ptr_size"));
    void* params[] = {&p, &n};
    if (CU_OK(cuLaunchKernel(reinterpret_cast<CUfunction>(kernel), 6, 1, 1, 32, 1, 1, 0, nullptr, params,
                             nullptr))) {
      Expect("k_ptr_size", 6, 32, Pack(16, {{&p, 8}, {&n, 8}}, {0, 8}));
    }
    CUfunction from_kernel = nullptr;
    CU_OK(cuKernelGetFunction(&from_kernel, kernel));
    // The kernel's own calls (the runtime's cudaFuncGetAttributes / cudaFuncSetAttribute).
    const char* kernel_name = nullptr;
    CU_OK(cuKernelGetName(&kernel_name, kernel));
    CHECK_TRUE(kernel_name != nullptr && std::string(kernel_name) == "k_ptr_size");
    CUlibrary of_kernel = nullptr;
    CU_OK(cuKernelGetLibrary(&of_kernel, kernel));
    CHECK_TRUE(of_kernel == library);
    int threads = 0;
    CU_OK(cuKernelGetAttribute(&threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, kernel, 0));
    CHECK_TRUE(threads > 0);
    CU_OK(cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1024, kernel, 0));
    CU_EXPECT(cuKernelGetAttribute(&threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, kernel, 7),
              CUDA_ERROR_INVALID_DEVICE);
    std::size_t offset = 0, bytes = 0;
    CU_OK(cuKernelGetParamInfo(kernel, 1, &offset, &bytes));
    CHECK_TRUE(offset == 8 && bytes == 8);
    CU_OK(cuFuncGetName(&name, from_kernel));
    CHECK_TRUE(std::string(name) == "k_ptr_size");
    // Enumeration: every kernel of the image, the one looked up by name among them (same handle).
    unsigned count = 0;
    CU_OK(cuLibraryGetKernelCount(&count, library));
    std::vector<CUkernel> kernels(count);
    CHECK_TRUE(count == kKernelNames.size());
    if (count == kKernelNames.size() && CU_OK(cuLibraryEnumerateKernels(kernels.data(), count, library))) {
      CHECK_TRUE(Names(kernels, cuKernelGetName) == kKernelNames);
      CHECK_TRUE(std::find(kernels.begin(), kernels.end(), kernel) != kernels.end());
    }
    CU_EXPECT(cuLibraryEnumerateKernels(nullptr, count, library), CUDA_ERROR_INVALID_VALUE);
    CU_OK(cuLibraryUnload(library));
  }
  // The same for the module's functions.
  unsigned count = 0;
  CU_OK(cuModuleGetFunctionCount(&count, module));
  std::vector<CUfunction> functions(count);
  CHECK_TRUE(count == kKernelNames.size());
  if (count == kKernelNames.size() && CU_OK(cuModuleEnumerateFunctions(functions.data(), count, module))) {
    CHECK_TRUE(Names(functions, cuFuncGetName) == kKernelNames);
    CUfunction by_name = nullptr;
    CU_OK(cuModuleGetFunction(&by_name, module, "k_int"));
    CHECK_TRUE(std::find(functions.begin(), functions.end(), by_name) != functions.end());
  }
  CU_OK(cuCtxSynchronize());  // any latched launch error surfaces here
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuModuleUnload(module));
  CU_OK(cuMemFree(p));
  return drv::Verdict("driver_launch");
}
