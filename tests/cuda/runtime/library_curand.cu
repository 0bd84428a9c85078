// cuRAND: device generators (XORWOW, Philox) filling device memory with uniform and normal numbers
// on a stream, reproducible for a seed. Checked for range and moments; through the emulated device
// (--launch-log), each generation must have launched a kernel.
#include <curand.h>

#include <vector>

#include "check.h"

namespace {

constexpr std::size_t kCount = 1 << 16;

std::vector<float> Generate(curandRngType_t type, bool normal, cudaStream_t stream, float* device) {
  curandGenerator_t generator = nullptr;
  std::vector<float> host(kCount, -7.0f);
  if (!RT_STATUS(curandCreateGenerator(&generator, type))) return host;
  RT_STATUS(curandSetStream(generator, stream));
  RT_STATUS(curandSetPseudoRandomGeneratorSeed(generator, 1234));
  if (normal) {
    RT_STATUS(curandGenerateNormal(generator, device, kCount, 0.0f, 1.0f));
  } else {
    RT_STATUS(curandGenerateUniform(generator, device, kCount));
  }
  RT_CUDA(cudaMemcpyAsync(host.data(), device, kCount * sizeof(float), cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_STATUS(curandDestroyGenerator(generator));
  return host;
}

double Mean(const std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "library_curand");
  int version = 0;
  RT_STATUS(curandGetVersion(&version));
  RT_CHECK(version > 0);
  float* device = nullptr;
  RT_CUDA(cudaMalloc(&device, kCount * sizeof(float)));
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));

  for (curandRngType_t type : {CURAND_RNG_PSEUDO_XORWOW, CURAND_RNG_PSEUDO_PHILOX4_32_10}) {
    const int before = options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "") : 0;
    const std::vector<float> uniform = Generate(type, false, stream, device);
    const std::vector<float> again = Generate(type, false, stream, device);
    const std::vector<float> normal = Generate(type, true, stream, device);
    if (options.launch_log != nullptr) RT_CHECK(rt::LaunchCount(options.launch_log, "") >= before + 3);
    if (!options.kernel_results) continue;
    bool in_range = true;
    for (float x : uniform) in_range = in_range && x > 0.0f && x <= 1.0f;
    RT_CHECK(in_range);
    RT_CHECK(uniform == again);  // the same seed gives the same numbers
    RT_CHECK(Mean(uniform) > 0.49 && Mean(uniform) < 0.51);
    RT_CHECK(Mean(normal) > -0.02 && Mean(normal) < 0.02);
  }
  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaFree(device));
  return rt::Finish("library_curand");
}
