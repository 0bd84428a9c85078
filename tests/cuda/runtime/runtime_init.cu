// Runtime start-up and devices: counts, versions, selecting devices, lazy context creation, other
// threads, cudaDeviceReset and life after it.
#include <thread>

#include "check.h"

int main(int argc, char** argv) {
  rt::ParseOptions(argc, argv, "runtime_init");
  int count = 0;
  if (!RT_CUDA(cudaGetDeviceCount(&count)) || !RT_CHECK(count >= 1)) return rt::Finish("runtime_init");

  int driver = 0;
  int runtime = 0;
  RT_CUDA(cudaDriverGetVersion(&driver));
  RT_CUDA(cudaRuntimeGetVersion(&runtime));
  RT_CHECK(driver >= 13000);
  RT_CHECK(runtime == CUDART_VERSION);
  RT_CHECK(driver >= runtime);

  int device = -1;
  RT_CUDA(cudaGetDevice(&device));
  RT_CHECK(device == 0);
  RT_CUDA(cudaFree(nullptr));  // creates the primary context
  RT_CUDA(cudaDeviceSynchronize());

  // An invalid ordinal fails without becoming sticky.
  RT_CUDA_FAILS(cudaSetDevice(count), cudaErrorInvalidDevice);
  RT_CUDA_FAILS(cudaGetLastError(), cudaErrorInvalidDevice);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaGetDevice(&device));
  RT_CHECK(device == 0);

  for (int d = 0; d < count; ++d) {
    RT_CUDA(cudaSetDevice(d));
    void* p = nullptr;
    RT_CUDA(cudaMalloc(&p, 1 << 20));
    RT_CUDA(cudaFree(p));
    RT_CUDA(cudaGetDevice(&device));
    RT_CHECK(device == d);
  }
  RT_CUDA(cudaSetDevice(0));

  // Another thread starts on device 0 and works without any set-up of its own.
  std::thread([] {
    int d = -1;
    RT_CUDA(cudaGetDevice(&d));
    RT_CHECK(d == 0);
    void* p = nullptr;
    RT_CUDA(cudaMalloc(&p, 4096));
    RT_CUDA(cudaMemset(p, 0, 4096));
    RT_CUDA(cudaDeviceSynchronize());
    RT_CUDA(cudaFree(p));
  }).join();

  // Reset destroys the context and every allocation in it; the next call starts afresh.
  void* before = nullptr;
  RT_CUDA(cudaMalloc(&before, 4096));
  RT_CUDA(cudaDeviceReset());
  void* after = nullptr;
  RT_CUDA(cudaMalloc(&after, 4096));
  RT_CUDA(cudaMemset(after, 1, 4096));
  RT_CUDA(cudaDeviceSynchronize());
  RT_CUDA(cudaFree(after));
  return rt::Finish("runtime_init");
}
