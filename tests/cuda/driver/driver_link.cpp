// JIT linking through the driver API: two relocatable device objects (link_caller.cu's kernel calls
// link_callee.cu's device function) linked at run time from memory (cuLinkAddData: cubin + PTX) and
// from files (cuLinkAddFile: fatbin + cubin), loaded, and the kernel launched. For each launch it
// prints, as driver_launch does,
//   EXPECT <kernel> <grid x,y,z> <block x,y,z> <parameter bytes in hex>
// Then the error paths: garbage and truncated input (an error and a non-empty error log), an unknown
// input type, a missing file, an unresolved symbol, a destroyed state, and the JIT log options of
// cuModuleLoadDataEx. Usage: driver_link DIR (holding link_caller.{cubin,fatbin},
// link_callee.{cubin,ptx}).
#include <cstring>
#include <string>

#include "check.h"

namespace {

std::string g_dir;

std::string ReadFile(const std::string& name) {
  return drv::ReadFile(g_dir + "/" + name);
}

// A link's log options: both logs, verbose, and the wall time.
struct Logs {
  char info[4096] = {};
  char error[4096] = {};
  CUjit_option options[6] = {CU_JIT_INFO_LOG_BUFFER,  CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                             CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                             CU_JIT_LOG_VERBOSE,      CU_JIT_WALL_TIME};
  void* values[6] = {};
  Logs() { Reset(); }
  void Reset() {
    std::memset(info, 'x', sizeof info);  // garbage: the driver must terminate what it writes
    std::memset(error, 'x', sizeof error);
    values[0] = info;
    values[1] = reinterpret_cast<void*>(std::uintptr_t{sizeof info});
    values[2] = error;
    values[3] = reinterpret_cast<void*>(std::uintptr_t{sizeof error});
    values[4] = reinterpret_cast<void*>(std::uintptr_t{1});
    values[5] = nullptr;
  }
  std::size_t Size(int index) const { return reinterpret_cast<std::uintptr_t>(values[index]); }
  // Both logs NUL-terminated inside their buffers, with sizes that fit them.
  void CheckTerminated() const {
    CHECK_TRUE(std::memchr(info, '\0', sizeof info) != nullptr);
    CHECK_TRUE(std::memchr(error, '\0', sizeof error) != nullptr);
    CHECK_TRUE(Size(1) <= sizeof info);
    CHECK_TRUE(Size(3) <= sizeof error);
  }
};

// Loads `image`, launches link_kernel(out, x) once and checks the module's function.
void LoadAndLaunch(const void* image, CUdeviceptr out, int x) {
  CUmodule module = nullptr;
  if (!CU_OK(cuModuleLoadData(&module, image))) return;
  CUfunction kernel = nullptr;
  if (CU_OK(cuModuleGetFunction(&kernel, module, "link_kernel"))) {
    void* params[] = {&out, &x};
    if (CU_OK(cuLaunchKernel(kernel, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr))) {
      unsigned char bytes[12];
      std::memcpy(bytes, &out, 8);
      std::memcpy(bytes + 8, &x, 4);
      std::printf("EXPECT link_kernel 1,1,1 1,1,1 %s\n", drv::Hex(bytes, sizeof bytes).c_str());
    }
    CU_OK(cuCtxSynchronize());
    // On a GPU the kernel ran: 3 * x + 1 (gpu-check compares this line native and through gpupool);
    // the emulated device records launches without running them.
    int result = 0;
    CU_OK(cuMemcpyDtoH(&result, out, sizeof result));
    std::printf("link_kernel(%d) wrote %d\n", x, result);
  }
  CU_OK(cuModuleUnload(module));
}

// A link of the caller's cubin and the callee's PTX, from memory.
void LinkFromMemory(CUdeviceptr out) {
  std::string caller = ReadFile("link_caller.cubin");
  std::string callee = ReadFile("link_callee.ptx");
  callee.push_back('\0');
  Logs logs;
  CUlinkState link = nullptr;
  if (!CU_OK(cuLinkCreate(6, logs.options, logs.values, &link))) return;
  CU_OK(cuLinkAddData(link, CU_JIT_INPUT_CUBIN, caller.data(), caller.size(), "link_caller.cubin", 0, nullptr,
                      nullptr));
  CU_OK(cuLinkAddData(link, CU_JIT_INPUT_PTX, callee.data(), callee.size(), "link_callee.ptx", 0, nullptr,
                      nullptr));
  void* cubin = nullptr;
  size_t size = 0;
  if (CU_OK(cuLinkComplete(link, &cubin, &size))) {
    CHECK_TRUE(cubin != nullptr && size > 4 &&
               std::memcmp(cubin,
                           "\x7f"
                           "ELF",
                           4) == 0);
    logs.CheckTerminated();
    CHECK_TRUE(logs.error[0] == '\0');
    float wall_ms = -1;
    std::memcpy(&wall_ms, &logs.values[5], sizeof wall_ms);
    CHECK_TRUE(wall_ms >= 0);
    LoadAndLaunch(cubin, out, 7);  // the image stays valid until cuLinkDestroy
  }
  CU_OK(cuLinkDestroy(link));
}

// A link of the caller's fatbin and the callee's cubin, from files, with the pre-6.5 entry points
// that cuGetProcAddress hands a program built for CUDA 5.5.
void LinkFromFiles(CUdeviceptr out) {
  void* create = nullptr;
  void* add_file = nullptr;
  CUdriverProcAddressQueryResult found{};
  CU_OK(cuGetProcAddress("cuLinkCreate", &create, 5050, CU_GET_PROC_ADDRESS_DEFAULT, &found));
  CU_OK(cuGetProcAddress("cuLinkAddFile", &add_file, 6050, CU_GET_PROC_ADDRESS_DEFAULT, &found));
  CHECK_TRUE(create != nullptr && add_file != nullptr);
  if (create == nullptr || add_file == nullptr) return;
  auto link_create = reinterpret_cast<decltype(&cuLinkCreate)>(create);
  auto link_add_file = reinterpret_cast<decltype(&cuLinkAddFile)>(add_file);
  CUlinkState link = nullptr;
  if (!CU_OK(link_create(0, nullptr, nullptr, &link))) return;
  CU_OK(link_add_file(link, CU_JIT_INPUT_FATBINARY, (g_dir + "/link_caller.fatbin").c_str(), 0, nullptr,
                      nullptr));
  CU_OK(link_add_file(link, CU_JIT_INPUT_CUBIN, (g_dir + "/link_callee.cubin").c_str(), 0, nullptr, nullptr));
  void* cubin = nullptr;
  size_t size = 0;
  if (CU_OK(cuLinkComplete(link, &cubin, &size))) LoadAndLaunch(cubin, out, -2);
  CU_OK(cuLinkDestroy(link));
}

// Links `type` input `bytes` alone; expects an error and a non-empty error log, from cuLinkAddData or
// from cuLinkComplete (the driver may check an input when it is added or when the link completes).
void ExpectRejected(CUjitInputType type, const std::string& bytes, const char* what) {
  Logs logs;
  CUlinkState link = nullptr;
  if (!CU_OK(cuLinkCreate(6, logs.options, logs.values, &link))) return;
  CUresult r =
      cuLinkAddData(link, type, const_cast<char*>(bytes.data()), bytes.size(), what, 0, nullptr, nullptr);
  if (r == CUDA_SUCCESS) {
    void* cubin = nullptr;
    size_t size = 0;
    r = cuLinkComplete(link, &cubin, &size);
  }
  std::printf("%s: %s\n", what, drv::Name(r));
  CHECK_TRUE(r != CUDA_SUCCESS);
  logs.CheckTerminated();
  CHECK_TRUE(logs.error[0] != '\0' && logs.Size(3) > 0);
  CU_OK(cuLinkDestroy(link));
}

void ErrorPaths() {
  const std::string ptx = ReadFile("link_callee.ptx");
  ExpectRejected(CU_JIT_INPUT_PTX, "this is not PTX at all" + std::string(1, '\0'), "garbage PTX");
  ExpectRejected(CU_JIT_INPUT_PTX, ptx.substr(0, ptx.size() / 2) + std::string(1, '\0'), "truncated PTX");
  ExpectRejected(CU_JIT_INPUT_CUBIN,
                 "\x7f"
                 "ELF garbage that is no cubin",
                 "garbage cubin");
  // The caller alone: link_callee is undefined.
  ExpectRejected(CU_JIT_INPUT_CUBIN, ReadFile("link_caller.cubin"), "unresolved symbol");

  CUlinkState link = nullptr;
  if (!CU_OK(cuLinkCreate(0, nullptr, nullptr, &link))) return;
  char byte = 0;
  CU_EXPECT(cuLinkAddData(link, static_cast<CUjitInputType>(CU_JIT_NUM_INPUT_TYPES), &byte, 1, "x", 0,
                          nullptr, nullptr),
            CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuLinkAddData(link, static_cast<CUjitInputType>(-1), &byte, 1, "x", 0, nullptr, nullptr),
            CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(
      cuLinkAddFile(link, CU_JIT_INPUT_CUBIN, (g_dir + "/no_such_file.cubin").c_str(), 0, nullptr, nullptr),
      CUDA_ERROR_FILE_NOT_FOUND);
  CU_EXPECT(cuLinkComplete(link, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuLinkDestroy(link));
  CU_EXPECT(cuLinkDestroy(link), CUDA_ERROR_INVALID_HANDLE);
  CU_EXPECT(cuLinkAddData(link, CU_JIT_INPUT_PTX, &byte, 1, "x", 0, nullptr, nullptr),
            CUDA_ERROR_INVALID_HANDLE);
  CU_EXPECT(cuLinkCreate(0, nullptr, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
  CUjit_option unknown = static_cast<CUjit_option>(CU_JIT_NUM_OPTIONS + 7);
  void* value = nullptr;
  CU_EXPECT(cuLinkCreate(1, &unknown, &value, &link), CUDA_ERROR_INVALID_VALUE);
}

// cuModuleLoadDataEx and cuLibraryLoadData fill the log options (here from a cubin: nothing to
// JIT-compile).
void ModuleLoadWithLogs() {
  const std::string cubin = ReadFile("link_callee.cubin");
  Logs logs;
  CUmodule module = nullptr;
  if (CU_OK(cuModuleLoadDataEx(&module, cubin.data(), 6, logs.options, logs.values))) {
    logs.CheckTerminated();
    CHECK_TRUE(logs.error[0] == '\0');
    CU_OK(cuModuleUnload(module));
  }
  logs.Reset();
  CUlibrary library = nullptr;
  if (CU_OK(cuLibraryLoadData(&library, cubin.data(), logs.options, logs.values, 6, nullptr, nullptr, 0))) {
    logs.CheckTerminated();
    CHECK_TRUE(logs.error[0] == '\0');
    CU_OK(cuLibraryUnload(library));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: driver_link DIR\n");
    return 2;
  }
  g_dir = argv[1];
  drv::Start();
  CUdeviceptr out = 0;
  if (!CU_OK(cuMemAlloc(&out, sizeof(int)))) return 1;
  LinkFromMemory(out);
  LinkFromFiles(out);
  ErrorPaths();
  ModuleLoadWithLogs();
  CU_OK(cuMemFree(out));
  return drv::Verdict("driver_link");
}
