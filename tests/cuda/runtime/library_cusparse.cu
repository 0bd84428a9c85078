// cuSPARSE's generic API: a CSR matrix times a dense vector (SpMV) with the buffer the library asks
// for, on a stream. Compared with a CPU product; through the emulated device (--launch-log), SpMV
// must have launched a kernel.
#include <cusparse.h>

#include <vector>

#include "check.h"

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "library_cusparse");
  // A 5 x 5 tridiagonal matrix (2 on the diagonal, -1 beside it).
  constexpr int kRows = 5;
  std::vector<int> offsets = {0};
  std::vector<int> columns;
  std::vector<float> values;
  for (int row = 0; row < kRows; ++row) {
    for (int col = row - 1; col <= row + 1; ++col) {
      if (col < 0 || col >= kRows) continue;
      columns.push_back(col);
      values.push_back(col == row ? 2.0f : -1.0f);
    }
    offsets.push_back(static_cast<int>(columns.size()));
  }
  const std::vector<float> x = {1, 2, 3, 4, 5};
  std::vector<float> want(kRows, 0.0f);
  for (int row = 0; row < kRows; ++row) {
    for (int i = offsets[row]; i < offsets[row + 1]; ++i) want[row] += values[i] * x[columns[i]];
  }

  cusparseHandle_t handle = nullptr;
  if (!RT_STATUS(cusparseCreate(&handle))) return rt::Finish("library_cusparse");
  int version = 0;
  RT_STATUS(cusparseGetVersion(handle, &version));
  RT_CHECK(version > 0);
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));
  RT_STATUS(cusparseSetStream(handle, stream));

  int *d_offsets = nullptr, *d_columns = nullptr;
  float *d_values = nullptr, *d_x = nullptr, *d_y = nullptr;
  RT_CUDA(cudaMalloc(&d_offsets, offsets.size() * sizeof(int)));
  RT_CUDA(cudaMalloc(&d_columns, columns.size() * sizeof(int)));
  RT_CUDA(cudaMalloc(&d_values, values.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&d_x, x.size() * sizeof(float)));
  RT_CUDA(cudaMalloc(&d_y, kRows * sizeof(float)));
  RT_CUDA(cudaMemcpy(d_offsets, offsets.data(), offsets.size() * sizeof(int), cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy(d_columns, columns.data(), columns.size() * sizeof(int), cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy(d_values, values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemcpy(d_x, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
  RT_CUDA(cudaMemset(d_y, 0, kRows * sizeof(float)));

  cusparseSpMatDescr_t matrix = nullptr;
  cusparseDnVecDescr_t vx = nullptr, vy = nullptr;
  RT_STATUS(cusparseCreateCsr(&matrix, kRows, kRows, static_cast<int64_t>(values.size()), d_offsets,
                              d_columns, d_values, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                              CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
  RT_STATUS(cusparseCreateDnVec(&vx, kRows, d_x, CUDA_R_32F));
  RT_STATUS(cusparseCreateDnVec(&vy, kRows, d_y, CUDA_R_32F));
  const float one = 1.0f, zero = 0.0f;
  std::size_t buffer_size = 0;
  RT_STATUS(cusparseSpMV_bufferSize(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, matrix, vx, &zero, vy,
                                    CUDA_R_32F, CUSPARSE_SPMV_ALG_DEFAULT, &buffer_size));
  void* buffer = nullptr;
  RT_CUDA(cudaMalloc(&buffer, buffer_size > 0 ? buffer_size : 1));
  const int before = options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "") : 0;
  RT_STATUS(cusparseSpMV(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, matrix, vx, &zero, vy, CUDA_R_32F,
                         CUSPARSE_SPMV_ALG_DEFAULT, buffer));
  std::vector<float> got(kRows, -1.0f);
  RT_CUDA(cudaMemcpyAsync(got.data(), d_y, kRows * sizeof(float), cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  if (options.launch_log != nullptr) RT_CHECK(rt::LaunchCount(options.launch_log, "") > before);
  if (options.kernel_results) RT_CHECK(rt::Near(got, want));

  RT_STATUS(cusparseDestroySpMat(matrix));
  RT_STATUS(cusparseDestroyDnVec(vx));
  RT_STATUS(cusparseDestroyDnVec(vy));
  RT_STATUS(cusparseDestroy(handle));
  RT_CUDA(cudaStreamDestroy(stream));
  for (void* p : {static_cast<void*>(d_offsets), static_cast<void*>(d_columns), static_cast<void*>(d_values),
                  static_cast<void*>(d_x), static_cast<void*>(d_y), buffer}) {
    RT_CUDA(cudaFree(p));
  }
  return rt::Finish("library_cusparse");
}
