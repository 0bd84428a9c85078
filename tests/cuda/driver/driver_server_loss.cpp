// Keeps the server busy with copies and synchronisations until a call fails, which the test
// causes by killing the server after "READY". Prints "ERROR <name>" and exits 0 when a call returns
// a CUDA error; exits 1 only if the loop ends without one (it never should). Then prints how many
// times the lost connection reached the driver log's callback and its dump ("LOG callback N dump N").
#include <atomic>
#include <cstdio>
#include <cstring>

#include "check.h"

namespace {

constexpr const char* kLost = "connection to gpupool-server lost";

void CountLost(void* data, CUlogLevel level, char* message, size_t) {
  if (level == CU_LOG_LEVEL_ERROR && std::strstr(message, kLost) != nullptr)
    static_cast<std::atomic<int>*>(data)->fetch_add(1);
}

int InDump() {
  std::vector<char> buffer(25601);
  size_t size = buffer.size();
  if (cuLogsDumpToMemory(nullptr, buffer.data(), &size, 0) != CUDA_SUCCESS) return -1;
  int n = 0;
  for (const char* at = std::strstr(buffer.data(), kLost); at != nullptr; at = std::strstr(at + 1, kLost))
    ++n;
  return n;
}

}  // namespace

int main() {
  std::atomic<int> lost{0};
  CU_OK(cuLogsRegisterCallback(&CountLost, &lost, nullptr));
  drv::Start();
  const std::size_t n = 8u << 20;
  CUdeviceptr d = 0;
  if (!CU_OK(cuMemAlloc(&d, n))) return 1;
  std::vector<unsigned char> host(n, 5);
  for (long i = 0; i < 100000000; ++i) {
    CUresult r = cuMemcpyHtoD(d, host.data(), n);
    if (r == CUDA_SUCCESS) r = cuMemcpyDtoH(host.data(), d, n);
    if (r == CUDA_SUCCESS) r = cuCtxSynchronize();
    if (r != CUDA_SUCCESS) {
      std::printf("ERROR %s\n", drv::Name(r));
      std::printf("LOG callback %d dump %d\n", lost.load(), InDump());
      std::fflush(stdout);
      return 0;
    }
    if (i == 0) {
      std::printf("READY\n");
      std::fflush(stdout);
    }
  }
  return 1;
}
