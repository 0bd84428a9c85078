// cuBLASLt (what PyTorch's addmm and linear layers reach): a matmul described by descriptors, its
// algorithm chosen by the heuristic with a workspace, run on a stream, D = A * B + C. Compared with
// a CPU result; through the emulated device (--launch-log), the matmul must have launched a kernel.
#include <cublasLt.h>

#include <vector>

#include "check.h"

namespace {

constexpr int kM = 64, kN = 48, kK = 80;

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "library_cublaslt");
  const std::vector<float> a = rt::RandomFloats(kM * kK, 3), b = rt::RandomFloats(kK * kN, 4);
  const std::vector<float> c = rt::RandomFloats(kM * kN, 5);
  std::vector<float> want(c);  // column-major: D[row, col] = sum_k A[row, k] * B[k, col] + C[row, col]
  for (int col = 0; col < kN; ++col) {
    for (int row = 0; row < kM; ++row) {
      float sum = 0.0f;
      for (int k = 0; k < kK; ++k) sum += a[k * kM + row] * b[col * kK + k];
      want[col * kM + row] += sum;
    }
  }

  cublasLtHandle_t lt = nullptr;
  if (!RT_STATUS(cublasLtCreate(&lt))) return rt::Finish("library_cublaslt");
  RT_CHECK(cublasLtGetVersion() >= 130000);

  float *da = nullptr, *db = nullptr, *dc = nullptr, *dd = nullptr;
  void* workspace = nullptr;
  constexpr std::size_t kWorkspace = 4 << 20;
  RT_CUDA(cudaMalloc(&da, a.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&db, b.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&dc, c.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&dd, c.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&workspace, kWorkspace));
  RT_CUDA(cudaMemcpy(da, a.data(), a.size() * sizeof(float), cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy(db, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy(dc, c.data(), c.size() * sizeof(float), cudaMemcpyHostToDevice));

  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  RT_STATUS(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  RT_STATUS(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, kM, kK, kM));
  RT_STATUS(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, kK, kN, kK));
  RT_STATUS(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, kM, kN, kM));
  cublasLtMatmulPreference_t preference = nullptr;
  RT_STATUS(cublasLtMatmulPreferenceCreate(&preference));
  RT_STATUS(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &kWorkspace, sizeof kWorkspace));
  cublasLtMatmulHeuristicResult_t heuristic[4] = {};
  int found = 0;
  RT_STATUS(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, preference, 4, heuristic, &found));
  RT_CHECK(found >= 1);

  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));
  const int before = options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "") : 0;
  const float one = 1.0f;
  if (found >= 1) {
    RT_STATUS(cublasLtMatmul(lt, op, &one, da, la, db, lb, &one, dc, lc, dd, lc, &heuristic[0].algo,
                             workspace, kWorkspace, stream));
  }
  RT_CUDA(cudaStreamSynchronize(stream));
  if (options.launch_log != nullptr) RT_CHECK(rt::LaunchCount(options.launch_log, "") > before);
  std::vector<float> got(c.size(), 0.0f);
  RT_CUDA(cudaMemcpy(got.data(), dd, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
  if (options.kernel_results) RT_CHECK(rt::Near(got, want));

  RT_STATUS(cublasLtMatmulPreferenceDestroy(preference));
  for (cublasLtMatrixLayout_t layout : {la, lb, lc}) RT_STATUS(cublasLtMatrixLayoutDestroy(layout));
  RT_STATUS(cublasLtMatmulDescDestroy(op));
  RT_STATUS(cublasLtDestroy(lt));
  RT_CUDA(cudaStreamDestroy(stream));
  for (void* p : {static_cast<void*>(da), static_cast<void*>(db), static_cast<void*>(dc),
                  static_cast<void*>(dd), workspace}) {
    RT_CUDA(cudaFree(p));
  }
  return rt::Finish("library_cublaslt");
}
