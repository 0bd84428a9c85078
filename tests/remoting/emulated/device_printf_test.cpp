// Device printf on the emulated device (remoting/server/emulated/device_printf.h): launches of
// kernels that call vprintf, directly or through a device function, queue one line per format
// string of their module; synchronisations write them to stdout; the FIFO limit bounds them.
#include "remoting/server/emulated/device_printf.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {
namespace {

// What `body` writes to this process's stdout (stdio flushed before and after). Catch reports to
// stdout too, so checks happen after it returns: `body` only records results.
std::string CaptureStdout(const std::function<void()>& body) {
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  std::FILE* file = std::tmpfile();
  if (saved < 0 || file == nullptr || ::dup2(::fileno(file), STDOUT_FILENO) < 0)
    FAIL("cannot capture stdout");
  body();
  std::fflush(stdout);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  std::string text;
  std::rewind(file);
  char chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, file)) > 0;) text.append(chunk, n);
  std::fclose(file);
  return text;
}

struct Loaded {
  explicit Loaded(const char* file) {
    std::ifstream in(std::string(GPUPOOL_EMULATED_IMAGES) + "/" + file, std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(Api().cuModuleLoadData(&module, image.data()) == CUDA_SUCCESS);
  }
  ~Loaded() {
    if (module != nullptr) (void)Api().cuModuleUnload(module);
  }
  CUfunction Get(const char* name) const {
    CUfunction f = nullptr;
    REQUIRE(Api().cuModuleGetFunction(&f, module, name) == CUDA_SUCCESS);
    return f;
  }
  CUresult Launch(CUfunction f, void* arg) const {
    void* params[] = {arg};
    return Api().cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr);
  }
  CUmodule module = nullptr;
};

// One launch's lines: each format string of the module, in source order (Report comes first).
std::string Lines(const std::string& kernel) {
  return "[emulated printf] kernel " + kernel + ": indirect %d\n" + "[emulated printf] kernel " + kernel +
         ": direct %d from %d\n";
}

TEST_CASE("a printing kernel's lines appear at the next synchronisation, not at launch") {
  const char* file = GENERATE("printf_kernels.cubin", "printf_kernels_debug.cubin");
  INFO(file);
  Loaded loaded(file);
  CUfunction print = loaded.Get("k_print"), indirect = loaded.Get("k_print_through_function");
  CUevent event = nullptr;
  CU_OK(Api().cuEventCreate(&event, 0));
  CUdeviceptr device = 0;
  CU_OK(Api().cuMemAlloc_v2(&device, 4));
  int value = 7, host = 0;
  std::vector<CUresult> results;
  const std::string at_launch = CaptureStdout([&] {
    results.push_back(loaded.Launch(print, &value));
    results.push_back(loaded.Launch(indirect, &value));
  });
  const std::string at_sync = CaptureStdout([&] { results.push_back(Api().cuCtxSynchronize()); });
  // Stream and event synchronisation, blocking copies and module unload flush too.
  const std::string at_others = CaptureStdout([&] {
    results.push_back(loaded.Launch(print, &value));
    results.push_back(Api().cuStreamSynchronize(nullptr));
    results.push_back(loaded.Launch(print, &value));
    results.push_back(Api().cuEventRecord(event, nullptr));
    results.push_back(Api().cuEventSynchronize(event));
    results.push_back(loaded.Launch(print, &value));
    results.push_back(Api().cuMemcpyDtoH_v2(&host, device, 4));
    results.push_back(loaded.Launch(print, &value));
    results.push_back(Api().cuModuleUnload(loaded.module));
  });
  loaded.module = nullptr;
  CU_OK(Api().cuEventDestroy_v2(event));
  CU_OK(Api().cuMemFree_v2(device));
  CHECK(results == std::vector<CUresult>(results.size(), CUDA_SUCCESS));
  CHECK(at_launch.empty());
  CHECK(at_sync == Lines("k_print") + Lines("k_print_through_function"));
  CHECK(at_others == Lines("k_print") + Lines("k_print") + Lines("k_print") + Lines("k_print"));
}

TEST_CASE("a kernel that does not print writes nothing") {
  Loaded loaded("printf_kernels.cubin");
  CUfunction quiet = loaded.Get("k_quiet");
  CUdeviceptr device = 0;
  CU_OK(Api().cuMemAlloc_v2(&device, 4));
  std::vector<CUresult> results;
  const std::string out = CaptureStdout([&] {
    results.push_back(loaded.Launch(quiet, &device));
    results.push_back(Api().cuCtxSynchronize());
  });
  CU_OK(Api().cuMemFree_v2(device));
  CHECK(results == std::vector<CUresult>(2, CUDA_SUCCESS));
  CHECK(out.empty());
}

TEST_CASE("the printf FIFO limit bounds the queued lines, and FIFOs larger than the device allows fail") {
  Loaded loaded("printf_kernels.cubin");
  CUfunction print = loaded.Get("k_print");
  std::size_t fifo = 0;
  CU_OK(Api().cuCtxGetLimit(&fifo, CU_LIMIT_PRINTF_FIFO_SIZE));
  CHECK(fifo == (1u << 20));
  const std::size_t per_launch = Lines("k_print").size();
  CU_OK(Api().cuCtxSetLimit(CU_LIMIT_PRINTF_FIFO_SIZE, per_launch * 3 + 10));
  int value = 1;
  std::vector<CUresult> results;
  const std::string out = CaptureStdout([&] {
    for (int i = 0; i < 10; ++i) results.push_back(loaded.Launch(print, &value));
    results.push_back(Api().cuCtxSynchronize());
  });
  CHECK(results == std::vector<CUresult>(11, CUDA_SUCCESS));
  CHECK(out == Lines("k_print") + Lines("k_print") + Lines("k_print"));
  CHECK(Api().cuCtxSetLimit(CU_LIMIT_PRINTF_FIFO_SIZE, emulated::kMaxPrintfFifo + 1) ==
        CUDA_ERROR_OUT_OF_MEMORY);
  CU_OK(Api().cuCtxSetLimit(CU_LIMIT_PRINTF_FIFO_SIZE, fifo));
}

}  // namespace
}  // namespace gpupool::server::emulated_test
