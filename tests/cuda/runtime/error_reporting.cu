// Errors as the runtime reports them: invalid launch configurations, allocation failure, bad
// pointers and devices, unrecorded events, managed memory where the device has none. None of them
// is sticky: work continues afterwards.
#include <cstring>

#include "check.h"

__global__ void Noop() {}

namespace {

// CUDA 13.0's runtime hands launch configurations to the driver unchecked and reports the driver's
// code (seen with a test driver: CUDA_ERROR_INVALID_VALUE becomes cudaErrorInvalidValue). Whether
// the real driver's answer makes that cudaErrorInvalidConfiguration is to be seen on a GPU; either
// passes here, success does not.
bool IsLaunchConfigurationError(cudaError_t error) {
  return error == cudaErrorInvalidConfiguration || error == cudaErrorInvalidValue;
}

// The device still works after an error.
void StillWorks() {
  void* p = nullptr;
  RT_CUDA(cudaMalloc(&p, 1 << 20));
  RT_CUDA(cudaMemset(p, 0, 1 << 20));
  RT_CUDA(cudaDeviceSynchronize());
  RT_CUDA(cudaFree(p));
}

}  // namespace

int main(int argc, char** argv) {
  rt::ParseOptions(argc, argv, "error_reporting");

  // Invalid configurations fail at the launch; cudaGetLastError reports and clears it.
  Noop<<<1, 2048>>>();
  RT_CHECK(IsLaunchConfigurationError(cudaGetLastError()));
  RT_CUDA(cudaGetLastError());
  Noop<<<0, 1>>>();
  RT_CHECK(IsLaunchConfigurationError(cudaGetLastError()));
  Noop<<<1, dim3(1, 1, 65)>>>();
  RT_CHECK(IsLaunchConfigurationError(cudaGetLastError()));
  Noop<<<1, 1, 1 << 20>>>();  // 1 MiB of dynamic shared memory
  RT_CHECK(cudaGetLastError() != cudaSuccess);
  RT_CUDA(cudaDeviceSynchronize());
  Noop<<<1, 1>>>();
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaDeviceSynchronize());
  StillWorks();

  // Allocation failure: reported, recorded as the last error, not sticky.
  void* huge = nullptr;
  RT_CUDA_FAILS(cudaMalloc(&huge, std::size_t{1} << 50), cudaErrorMemoryAllocation);
  RT_CUDA_FAILS(cudaGetLastError(), cudaErrorMemoryAllocation);
  RT_CUDA(cudaGetLastError());
  StillWorks();

  // Pointers and devices that are not what the call needs.
  int on_stack = 0;
  RT_CHECK(cudaFree(&on_stack) != cudaSuccess);
  cudaGetLastError();
  void* small = nullptr;
  if (RT_CUDA(cudaMalloc(&small, 256))) {
    char buffer[1024] = {};
    RT_CHECK(cudaMemcpy(small, buffer, sizeof buffer, cudaMemcpyHostToDevice) !=
             cudaSuccess);  // past the end
    cudaGetLastError();
    RT_CUDA(cudaFree(small));
  }
  RT_CUDA_FAILS(cudaSetDevice(-1), cudaErrorInvalidDevice);
  cudaGetLastError();
  StillWorks();

  // An event that was never recorded has no time.
  cudaEvent_t a = nullptr;
  cudaEvent_t b = nullptr;
  RT_CUDA(cudaEventCreate(&a));
  RT_CUDA(cudaEventCreate(&b));
  float ms = 0.0f;
  RT_CUDA_FAILS(cudaEventElapsedTime(&ms, a, b), cudaErrorInvalidResourceHandle);
  cudaGetLastError();
  RT_CUDA(cudaEventDestroy(a));
  RT_CUDA(cudaEventDestroy(b));

  // Managed memory: the device has it (through gpupool without concurrent access); a size of 0 and
  // unknown flags are refused.
  int managed = -1;
  RT_CUDA(cudaDeviceGetAttribute(&managed, cudaDevAttrManagedMemory, 0));
  RT_CHECK(managed == 1);
  void* unified = nullptr;
  RT_CUDA(cudaMallocManaged(&unified, 4096));
  RT_CUDA(cudaFree(unified));
  RT_CUDA_FAILS(cudaMallocManaged(&unified, 4096, 7), cudaErrorInvalidValue);
  cudaGetLastError();

  // A call gpupool does not forward (device notifications) fails as not supported, and not as
  // cudaErrorCallRequiresNewerDriver (what the runtime says when the driver lacks the entry point);
  // natively it may succeed. It is not sticky.
  cudaAsyncCallbackHandle_t callback{};
  const cudaError_t notify = cudaDeviceRegisterAsyncNotification(
      0, [](cudaAsyncNotificationInfo_t*, void*, cudaAsyncCallbackHandle_t) {}, nullptr, &callback);
  if (!RT_CHECK(notify == cudaSuccess || notify == cudaErrorNotSupported))
    std::fprintf(stderr, "  cudaDeviceRegisterAsyncNotification: %s\n", cudaGetErrorName(notify));
  if (notify == cudaSuccess) RT_CUDA(cudaDeviceUnregisterAsyncNotification(0, callback));
  cudaGetLastError();
  StillWorks();

  // Names and descriptions.
  RT_CHECK(std::strcmp(cudaGetErrorName(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation") == 0);
  RT_CHECK(std::strlen(cudaGetErrorString(cudaErrorInvalidConfiguration)) > 0);
  RT_CUDA(cudaGetLastError());
  return rt::Finish("error_reporting");
}
