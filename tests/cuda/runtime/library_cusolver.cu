// cuSOLVER's dense LU: factor a 4 x 4 system (getrf, with the workspace it asks for) and solve it
// (getrs). Compared with the known solution; through the emulated device (--launch-log), the
// factorisation must have launched kernels.
#include <cusolverDn.h>

#include <vector>

#include "check.h"

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "library_cusolver");
  constexpr int kN = 4;
  // Column-major A, diagonally dominant so the factorisation is well conditioned, and b = A * x.
  const std::vector<float> a = {10, 1, 2, 0, 1, 12, 0, 3, 2, 0, 9, 1, 0, 3, 1, 11};
  const std::vector<float> want = {1, -2, 3, 0.5f};
  std::vector<float> b(kN, 0.0f);
  for (int col = 0; col < kN; ++col) {
    for (int row = 0; row < kN; ++row) b[row] += a[col * kN + row] * want[col];
  }

  cusolverDnHandle_t handle = nullptr;
  if (!RT_STATUS(cusolverDnCreate(&handle))) return rt::Finish("library_cusolver");
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));
  RT_STATUS(cusolverDnSetStream(handle, stream));

  float *d_a = nullptr, *d_b = nullptr, *workspace = nullptr;
  int *d_pivots = nullptr, *d_info = nullptr;
  RT_CUDA(cudaMalloc(&d_a, a.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&d_b, b.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&d_pivots, kN * sizeof(int)));
  RT_CUDA(cudaMalloc(&d_info, sizeof(int)));
  RT_CUDA(cudaMemcpy(d_a, a.data(), a.size() * sizeof(float), cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy(d_b, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice));
  int work = 0;
  RT_STATUS(cusolverDnSgetrf_bufferSize(handle, kN, kN, d_a, kN, &work));
  RT_CHECK(work > 0);
  RT_CUDA(cudaMalloc(&workspace, static_cast<std::size_t>(work > 0 ? work : 1) * sizeof(float)));

  const int before = options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "") : 0;
  RT_STATUS(cusolverDnSgetrf(handle, kN, kN, d_a, kN, workspace, d_pivots, d_info));
  RT_STATUS(cusolverDnSgetrs(handle, CUBLAS_OP_N, kN, 1, d_a, kN, d_pivots, d_b, kN, d_info));
  std::vector<float> got(kN, 0.0f);
  int info = -1;
  RT_CUDA(cudaMemcpyAsync(got.data(), d_b, kN * sizeof(float), cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaMemcpyAsync(&info, d_info, sizeof info, cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  if (options.launch_log != nullptr) RT_CHECK(rt::LaunchCount(options.launch_log, "") >= before + 2);
  if (options.kernel_results) {
    RT_CHECK(info == 0);
    RT_CHECK(rt::Near(got, want));
  }

  RT_STATUS(cusolverDnDestroy(handle));
  RT_CUDA(cudaStreamDestroy(stream));
  for (void* p : {static_cast<void*>(d_a), static_cast<void*>(d_b), static_cast<void*>(workspace),
                  static_cast<void*>(d_pivots), static_cast<void*>(d_info)}) {
    RT_CUDA(cudaFree(p));
  }
  return rt::Finish("library_cusolver");
}
