// gpupool-compute-bound: a compute-bound CUDA program, run natively and through gpupool to compare
// their speed (issue 2: through gpupool it must reach at least 98 % of native). Many launches of a
// kernel that does nothing but dependent FMAs in registers, so the GPU is the bottleneck and the
// remoting cost is what the launches add. Prints one JSON line; the checksum of the results lets a
// caller check that both runs computed the same numbers.
//
//   gpupool-compute-bound [--launches N] [--iters K] [--blocks-per-sm B]
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kThreads = 256;

// Four independent chains per thread keep the FMA pipes busy; the result depends on every step.
__global__ void FmaLoop(float* out, int iters) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float a = 1.0f + i * 1e-7f, b = 0.5f, c = 0.25f, d = 0.125f;
  const float m = 0.999999f, k = 1e-6f;
  for (int n = 0; n < iters; ++n) {
    a = fmaf(a, m, k);
    b = fmaf(b, m, k);
    c = fmaf(c, m, k);
    d = fmaf(d, m, k);
  }
  out[i] += a + b + c + d;
}

bool Check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "gpupool-compute-bound: %s: %s\n", what, cudaGetErrorString(e));
  return false;
}

int ParsePositive(const char* flag, const char* text) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 100000000) {
    std::fprintf(stderr, "gpupool-compute-bound: %s wants a whole number from 1 to 100000000, not '%s'\n",
                 flag, text);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  int launches = 2000, iters = 100000, blocks_per_sm = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 < argc && flag == "--launches") {
      launches = ParsePositive("--launches", argv[++i]);
    } else if (i + 1 < argc && flag == "--iters") {
      iters = ParsePositive("--iters", argv[++i]);
    } else if (i + 1 < argc && flag == "--blocks-per-sm") {
      blocks_per_sm = ParsePositive("--blocks-per-sm", argv[++i]);
    } else {
      std::fprintf(stderr, "usage: gpupool-compute-bound [--launches N] [--iters K] [--blocks-per-sm B]\n");
      return 2;
    }
  }
  cudaDeviceProp prop{};
  if (!Check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties")) return 1;
  const int blocks = prop.multiProcessorCount * blocks_per_sm;
  const std::size_t n = static_cast<std::size_t>(blocks) * kThreads;
  float* out = nullptr;
  if (!Check(cudaMalloc(&out, n * sizeof(float)), "cudaMalloc")) return 1;
  if (!Check(cudaMemset(out, 0, n * sizeof(float)), "cudaMemset")) return 1;
  // One warm-up launch: module loading and the first launch's set-up are not what is measured.
  FmaLoop<<<blocks, kThreads>>>(out, 1);
  if (!Check(cudaDeviceSynchronize(), "warm-up")) return 1;

  const auto start = std::chrono::steady_clock::now();
  for (int l = 0; l < launches; ++l) FmaLoop<<<blocks, kThreads>>>(out, iters);
  if (!Check(cudaDeviceSynchronize(), "kernel loop")) return 1;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<float> host(n);
  if (!Check(cudaMemcpy(host.data(), out, n * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy")) return 1;
  double checksum = 0;
  for (float v : host) checksum += v;
  const double flops = 2.0 * 4.0 * static_cast<double>(iters) * static_cast<double>(n) * launches;
  std::printf(
      "{\"metric\":\"compute_bound\",\"device\":\"%s\",\"launches\":%d,\"iters\":%d,\"blocks\":%d,"
      "\"seconds\":%.6f,\"tflops\":%.3f,\"checksum\":%.9g}\n",
      prop.name, launches, iters, blocks, seconds, flops / seconds / 1e12, checksum);
  cudaFree(out);
  return 0;
}
