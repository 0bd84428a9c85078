// A program built for several GPU generations (cubins for sm_75 to sm_120 and PTX for compute_75), as
// applications and frameworks ship: its fatbin holds code a given GPU cannot use, which the client
// leaves out before sending it (remoting/client/fatbin_trim.h). The kernel must still load and run
// from what is sent.
#include <vector>

#include "check.h"

__global__ void Iota(int* out, int n, int base) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = base + i;
}

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "fatbin_archs");
  constexpr int kN = 1000;
  int* out = nullptr;
  if (!RT_CUDA(cudaMalloc(&out, kN * sizeof(int)))) return rt::Finish("fatbin_archs");
  const int before = options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "Iota") : 0;
  Iota<<<(kN + 127) / 128, 128>>>(out, kN, 7);
  RT_CUDA(cudaGetLastError());
  std::vector<int> got(kN, 0);
  RT_CUDA(cudaMemcpy(got.data(), out, kN * sizeof(int), cudaMemcpyDeviceToHost));
  if (options.launch_log != nullptr) RT_CHECK(rt::LaunchCount(options.launch_log, "Iota") == before + 1);
  if (options.kernel_results) {
    bool all = true;
    for (int i = 0; i < kN; ++i) all = all && got[i] == 7 + i;
    RT_CHECK(all);
  }
  cudaFuncAttributes attributes{};
  RT_CUDA(cudaFuncGetAttributes(&attributes, Iota));
  RT_CHECK(attributes.binaryVersion == 90 || attributes.ptxVersion == 75);  // the H200's own cubin, or JIT
  RT_CUDA(cudaFree(out));
  return rt::Finish("fatbin_archs");
}
