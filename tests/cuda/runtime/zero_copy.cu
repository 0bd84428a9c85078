// Mapped ("zero-copy") host memory the way CUDA's simpleZeroCopy uses it: cudaSetDeviceFlags with
// cudaDeviceMapHost, cudaHostAlloc(cudaHostAllocMapped), cudaHostGetDevicePointer, a kernel that
// reads and writes host memory, cudaDeviceSynchronize, the result read on the host without a copy;
// cudaMallocHost memory mapped as well (unified addressing), as UnifiedMemoryPerf's zero-copy case
// takes it; copies and memsets naming the device pointer. Through gpupool this needs the server on
// this host (canMapHostMemory says so, and the program follows it as simpleZeroCopy does).
#include <cstring>

#include "check.h"

__global__ void AddVectors(const float* a, const float* b, float* c, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) c[i] = a[i] + b[i];
}

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "zero_copy");
  RT_CUDA(cudaSetDeviceFlags(cudaDeviceMapHost));
  cudaDeviceProp prop{};
  RT_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("canMapHostMemory %d\n", prop.canMapHostMemory);
  constexpr int kN = 1 << 18;
  constexpr std::size_t kBytes = kN * sizeof(float);
  float *a = nullptr, *b = nullptr, *c = nullptr;
  if (!RT_CUDA(cudaHostAlloc(&a, kBytes, cudaHostAllocMapped)) ||
      !RT_CUDA(cudaHostAlloc(&b, kBytes, cudaHostAllocMapped | cudaHostAllocPortable)) ||
      !RT_CUDA(cudaMallocHost(&c, kBytes))) {
    return rt::Finish("zero_copy");
  }
  if (prop.canMapHostMemory == 0) {
    float* device = nullptr;
    RT_CUDA_FAILS(cudaHostGetDevicePointer(&device, a, 0), cudaErrorNotSupported);
  } else {
    for (int i = 0; i < kN; ++i) {
      a[i] = static_cast<float>(i);
      b[i] = 0.5f * static_cast<float>(i);
      c[i] = -1.0f;
    }
    float *da = nullptr, *db = nullptr, *dc = nullptr;
    RT_CUDA(cudaHostGetDevicePointer(&da, a, 0));
    RT_CUDA(cudaHostGetDevicePointer(&db, b, 0));
    RT_CUDA(cudaHostGetDevicePointer(&dc, c, 0));  // cudaMallocHost memory is mapped too
    RT_CHECK(da == a && db == b && dc == c);       // unified addressing: the same addresses
    cudaPointerAttributes attributes{};
    RT_CUDA(cudaPointerGetAttributes(&attributes, a));
    RT_CHECK(attributes.type == cudaMemoryTypeHost && attributes.devicePointer == a);
    AddVectors<<<64, 256>>>(da, db, dc, kN);
    RT_CUDA(cudaGetLastError());
    RT_CUDA(cudaDeviceSynchronize());
    if (options.kernel_results) {
      bool right = true;
      for (int i = 0; i < kN; ++i) right = right && c[i] == 1.5f * static_cast<float>(i);
      RT_CHECK(right);
    }
    // The device's copies and memsets reach the same pages.
    float* device = nullptr;
    RT_CUDA(cudaMalloc(&device, kBytes));
    RT_CUDA(cudaMemcpy(device, da, kBytes, cudaMemcpyDeviceToDevice));
    RT_CUDA(cudaMemset(dc, 0, kBytes));
    RT_CUDA(cudaDeviceSynchronize());
    bool zeroed = true;
    for (int i = 0; i < kN; ++i) zeroed = zeroed && c[i] == 0.0f;
    RT_CHECK(zeroed);
    RT_CUDA(cudaMemcpy(c, device, kBytes, cudaMemcpyDeviceToHost));
    RT_CHECK(std::memcmp(a, c, kBytes) == 0);
    RT_CUDA(cudaFree(device));
    std::printf("zero-copy sum checked: %s\n", options.kernel_results ? "yes" : "no (kernels not run)");
  }
  RT_CUDA(cudaFreeHost(a));
  RT_CUDA(cudaFreeHost(b));
  RT_CUDA(cudaFreeHost(c));
  return rt::Finish("zero_copy");
}
