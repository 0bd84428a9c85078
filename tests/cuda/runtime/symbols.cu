// Module symbols: cudaMemcpyToSymbol/FromSymbol (whole, with offsets, async) on __device__ and
// __constant__ variables, cudaGetSymbolAddress/Size, a kernel reading them, and copies past a
// symbol's end.
#include <numeric>
#include <vector>

#include "check.h"

__device__ float g_array[1024];
__device__ int g_sum;
__constant__ int c_table[256];

__global__ void SumTable() {
  int sum = 0;
  for (int i = 0; i < 256; ++i) sum += c_table[i];
  g_sum = sum;
}

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "symbols");

  std::vector<float> values(1024);
  for (int i = 0; i < 1024; ++i) values[static_cast<std::size_t>(i)] = static_cast<float>(i) * 0.5f;
  std::vector<float> back(1024, -1.0f);
  RT_CUDA(cudaMemcpyToSymbol(g_array, values.data(), sizeof(float) * 1024));
  RT_CUDA(cudaMemcpyFromSymbol(back.data(), g_array, sizeof(float) * 1024));
  RT_CHECK(back == values);

  // 16 floats at element 100, and back from the same place.
  const std::vector<float> patch(16, 42.0f);
  RT_CUDA(cudaMemcpyToSymbol(g_array, patch.data(), sizeof(float) * 16, sizeof(float) * 100));
  std::vector<float> patch_back(16, 0.0f);
  RT_CUDA(cudaMemcpyFromSymbol(patch_back.data(), g_array, sizeof(float) * 16, sizeof(float) * 100));
  RT_CHECK(patch_back == patch);

  // The symbol's address is ordinary device memory.
  void* address = nullptr;
  std::size_t size = 0;
  RT_CUDA(cudaGetSymbolAddress(&address, g_array));
  RT_CUDA(cudaGetSymbolSize(&size, g_array));
  RT_CHECK(size == sizeof(float) * 1024);
  float first = 0.0f;
  if (address != nullptr) {
    RT_CUDA(cudaMemcpy(&first, address, sizeof first, cudaMemcpyDeviceToHost));
    RT_CHECK(first == 0.0f);
    const float seven = 7.0f;
    RT_CUDA(cudaMemcpy(address, &seven, sizeof seven, cudaMemcpyHostToDevice));
    RT_CUDA(cudaMemcpyFromSymbol(&first, g_array, sizeof first));
    RT_CHECK(first == 7.0f);
  }

  // Constant memory, asynchronously on a stream.
  std::vector<int> table(256);
  std::iota(table.begin(), table.end(), 1);
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));
  RT_CUDA(
      cudaMemcpyToSymbolAsync(c_table, table.data(), sizeof(int) * 256, 0, cudaMemcpyHostToDevice, stream));
  std::vector<int> table_back(256, 0);
  RT_CUDA(cudaMemcpyFromSymbolAsync(table_back.data(), c_table, sizeof(int) * 256, 0, cudaMemcpyDeviceToHost,
                                    stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(table_back == table);

  const int zero = 0;
  RT_CUDA(cudaMemcpyToSymbol(g_sum, &zero, sizeof zero));
  SumTable<<<1, 1, 0, stream>>>();
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaStreamSynchronize(stream));
  int sum = -1;
  RT_CUDA(cudaMemcpyFromSymbol(&sum, g_sum, sizeof sum));
  if (options.kernel_results) RT_CHECK(sum == 256 * 257 / 2);

  // Past the end of a symbol: refused, and nothing else breaks.
  RT_CUDA_FAILS(cudaMemcpyToSymbol(g_array, values.data(), sizeof(float) * 16, sizeof(float) * 1020),
                cudaErrorInvalidValue);
  RT_CUDA_FAILS(cudaGetLastError(), cudaErrorInvalidValue);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaMemcpyFromSymbol(&first, g_array, sizeof first));
  RT_CUDA(cudaStreamDestroy(stream));
  return rt::Finish("symbols");
}
