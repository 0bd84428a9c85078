// cuBLAS (matrixMulCUBLAS style, and what PyTorch's matmuls reach): a handle, SGEMM on the default
// stream and on two streams of the program's own (cuBLAS keeps a workspace per stream, keyed through
// the driver's private tables), a strided batched SGEMM, the pointer mode, and half and bfloat16
// GEMMs on the tensor cores. Results are compared with a CPU product; through the emulated device
// (--launch-log), each call must have launched a kernel instead.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <vector>

#include "check.h"

namespace {

constexpr int kN = 96;  // not a multiple of cuBLAS's tiles, so edge handling runs too

// C = A * B for column-major n x n matrices.
std::vector<float> Product(const std::vector<float>& a, const std::vector<float>& b, int n) {
  std::vector<float> c(static_cast<std::size_t>(n) * n, 0.0f);
  for (int col = 0; col < n; ++col) {
    for (int k = 0; k < n; ++k) {
      const float bk = b[static_cast<std::size_t>(col) * n + k];
      for (int row = 0; row < n; ++row) {
        c[static_cast<std::size_t>(col) * n + row] += a[static_cast<std::size_t>(k) * n + row] * bk;
      }
    }
  }
  return c;
}

struct Launches {
  const rt::Options& options;
  int seen = 0;
  // Whether a kernel reached the device since the last call (always true on a GPU: no log).
  bool More() {
    if (options.launch_log == nullptr) return true;
    const int now = rt::LaunchCount(options.launch_log, "");
    const bool more = now > seen;
    seen = now;
    return more;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "library_cublas");
  Launches launches{options};
  const std::size_t count = static_cast<std::size_t>(kN) * kN;
  const std::size_t bytes = count * sizeof(float);
  const std::vector<float> a = rt::RandomFloats(count, 1), b = rt::RandomFloats(count, 2);
  const std::vector<float> want = Product(a, b, kN);

  cublasHandle_t handle = nullptr;
  if (!RT_STATUS(cublasCreate(&handle))) return rt::Finish("library_cublas");
  int version = 0;
  RT_STATUS(cublasGetVersion(handle, &version));
  RT_CHECK(version >= 13000);

  float *da = nullptr, *db = nullptr, *dc = nullptr;
  RT_CUDA(cudaMalloc(&da, bytes));
  RT_CUDA(cudaMalloc(&db, bytes));
  RT_CUDA(cudaMalloc(&dc, bytes * 4));
  RT_STATUS(cublasSetMatrix(kN, kN, sizeof(float), a.data(), kN, da, kN));
  RT_STATUS(cublasSetMatrix(kN, kN, sizeof(float), b.data(), kN, db, kN));
  launches.More();

  const float one = 1.0f, zero = 0.0f;
  std::vector<float> got(count, 0.0f);
  auto check_product = [&](float* d, const char* what) {
    std::fill(got.begin(), got.end(), 0.0f);
    RT_STATUS(cublasGetMatrix(kN, kN, sizeof(float), d, kN, got.data(), kN));
    if (options.kernel_results && !rt::Near(got, want)) rt::Fail(__FILE__, __LINE__, what);
  };

  // The default (legacy) stream.
  RT_STATUS(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, kN, kN, kN, &one, da, kN, db, kN, &zero, dc, kN));
  RT_CUDA(cudaDeviceSynchronize());
  RT_CHECK(launches.More());
  check_product(dc, "SGEMM on the default stream computed a wrong product");

  // Two streams of the program's own, each with its own workspace, running at once.
  cudaStream_t streams[2] = {};
  for (cudaStream_t& s : streams) RT_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  for (int i = 0; i < 2; ++i) {
    RT_STATUS(cublasSetStream(handle, streams[i]));
    cudaStream_t current = nullptr;
    RT_STATUS(cublasGetStream(handle, &current));
    RT_CHECK(current == streams[i]);
    RT_STATUS(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, kN, kN, kN, &one, da, kN, db, kN, &zero,
                          dc + count * (1 + i), kN));
  }
  for (cudaStream_t s : streams) RT_CUDA(cudaStreamSynchronize(s));
  RT_CHECK(launches.More());
  check_product(dc + count, "SGEMM on the first stream computed a wrong product");
  check_product(dc + count * 2, "SGEMM on the second stream computed a wrong product");

  // Alpha and beta read from device memory: C = 1 * A * B + 0 * C, in the per-thread default stream.
  RT_STATUS(cublasSetStream(handle, cudaStreamPerThread));
  float* scalars = nullptr;
  const float host_scalars[2] = {1.0f, 0.0f};
  RT_CUDA(cudaMalloc(&scalars, sizeof host_scalars));
  RT_CUDA(cudaMemcpy(scalars, host_scalars, sizeof host_scalars, cudaMemcpyHostToDevice));
  RT_STATUS(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_DEVICE));
  RT_STATUS(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, kN, kN, kN, scalars, da, kN, db, kN, scalars + 1,
                        dc + count * 3, kN));
  RT_STATUS(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST));
  RT_CUDA(cudaStreamSynchronize(cudaStreamPerThread));
  RT_CHECK(launches.More());
  check_product(dc + count * 3, "SGEMM with device scalars computed a wrong product");

  // A batch of two products of the same matrices, stored one after the other.
  RT_STATUS(cublasSetStream(handle, nullptr));
  RT_CUDA(cudaMemset(dc, 0, bytes * 2));
  RT_STATUS(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, kN, kN, kN, &one, da, kN, 0, db, kN,
                                      0, &zero, dc, kN, static_cast<long long>(count), 2));
  RT_CUDA(cudaDeviceSynchronize());
  RT_CHECK(launches.More());
  check_product(dc, "the first product of a batched SGEMM is wrong");
  check_product(dc + count, "the second product of a batched SGEMM is wrong");

  // Half and bfloat16 inputs with float accumulation on the tensor cores (TF32 math allowed), as
  // mixed-precision training runs them: cuBLAS hands these to cuBLASLt.
  RT_STATUS(cublasSetMathMode(handle, CUBLAS_TF32_TENSOR_OP_MATH));
  std::vector<__half> ha(count), hb(count);
  std::vector<__nv_bfloat16> ba(count), bb(count);
  for (std::size_t i = 0; i < count; ++i) {
    ha[i] = __float2half(a[i]), hb[i] = __float2half(b[i]);
    ba[i] = __float2bfloat16(a[i]), bb[i] = __float2bfloat16(b[i]);
  }
  void *d16a = nullptr, *d16b = nullptr;
  RT_CUDA(cudaMalloc(&d16a, count * 2));
  RT_CUDA(cudaMalloc(&d16b, count * 2));
  const struct {
    cudaDataType type;
    const void* host_a;
    const void* host_b;
    const char* what;
  } mixed[] = {{CUDA_R_16F, ha.data(), hb.data(), "a half-precision GEMM computed a wrong product"},
               {CUDA_R_16BF, ba.data(), bb.data(), "a bfloat16 GEMM computed a wrong product"}};
  for (const auto& m : mixed) {
    RT_CUDA(cudaMemcpy(d16a, m.host_a, count * 2, cudaMemcpyHostToDevice));
    RT_CUDA(cudaMemcpy(d16b, m.host_b, count * 2, cudaMemcpyHostToDevice));
    RT_STATUS(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, kN, kN, kN, &one, d16a, m.type, kN, d16b, m.type,
                           kN, &zero, dc, CUDA_R_32F, kN, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    RT_CUDA(cudaDeviceSynchronize());
    RT_CHECK(launches.More());
    std::fill(got.begin(), got.end(), 0.0f);
    RT_STATUS(cublasGetMatrix(kN, kN, sizeof(float), dc, kN, got.data(), kN));
    // Inputs rounded to 8 (bfloat16) or 11 (half) significant bits: a looser bound than float's.
    if (options.kernel_results && !rt::Near(got, want, 3e-2f)) rt::Fail(__FILE__, __LINE__, m.what);
  }
  RT_STATUS(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));

  // A bad argument is cuBLAS's own error, found before anything reaches the device.
  RT_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, -1, kN, kN, &one, da, kN, db, kN, &zero, dc, kN) ==
           CUBLAS_STATUS_INVALID_VALUE);

  RT_STATUS(cublasDestroy(handle));
  for (cudaStream_t s : streams) RT_CUDA(cudaStreamDestroy(s));
  for (void* p : {static_cast<void*>(da), static_cast<void*>(db), static_cast<void*>(dc),
                  static_cast<void*>(scalars), d16a, d16b}) {
    RT_CUDA(cudaFree(p));
  }
  return rt::Finish("library_cublas");
}
