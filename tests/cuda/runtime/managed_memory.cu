// Managed memory the way CUDA's tutorials and samples use it: cudaMallocManaged arrays initialised on
// the host, a kernel, cudaDeviceSynchronize, the results read on the host ("An Even Easier
// Introduction to CUDA"); a linked structure whose pointers both sides follow; copies and memsets
// with cudaMemcpyDefault; prefetches and advice (UnifiedMemoryPerf); stream attachment with host work
// between kernels when the device has no concurrent managed access (UnifiedMemoryStreams).
#include <cmath>
#include <cstring>

#include "check.h"

__global__ void Add(int n, const float* x, float* y) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) y[i] = x[i] + y[i];
}

// Module-scope managed variables: a counter with an initial value, and a table that spans pages.
__managed__ int g_counter = 7;
__managed__ float g_table[3000];

__global__ void Bump() {
  g_counter += 1;
}

__global__ void ScaleTable(float factor) {
  for (int i = threadIdx.x; i < 3000; i += blockDim.x) g_table[i] *= factor;
}

struct Node {
  float value;
  Node* next;
};

// Sums a list that lives in managed memory, following its pointers on the device.
__global__ void SumList(const Node* head, float* out) {
  float sum = 0;
  for (const Node* n = head; n != nullptr; n = n->next) sum += n->value;
  *out = sum;
}

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "managed_memory");
  cudaDeviceProp prop{};
  RT_CUDA(cudaGetDeviceProperties(&prop, 0));
  RT_CHECK(prop.managedMemory == 1);

  // The tutorial: y = x + y over a million floats.
  const int n = 1 << 20;
  float *x = nullptr, *y = nullptr;
  RT_CUDA(cudaMallocManaged(&x, n * sizeof(float)));
  RT_CUDA(cudaMallocManaged(&y, n * sizeof(float)));
  for (int i = 0; i < n; ++i) {
    x[i] = 1.0f;
    y[i] = 2.0f;
  }
  Add<<<(n + 255) / 256, 256>>>(n, x, y);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaDeviceSynchronize());
  float max_error = 0;
  for (int i = 0; i < n; ++i) max_error = std::fmax(max_error, std::fabs(y[i] - 3.0f));
  if (options.kernel_results) RT_CHECK(max_error == 0);
  if (options.launch_log != nullptr) RT_CHECK(rt::LaunchCount(options.launch_log, "Add") == 1);
  RT_CHECK(x[0] == 1.0f && x[n - 1] == 1.0f);  // read-only on the device: unchanged

  cudaPointerAttributes attributes{};
  RT_CUDA(cudaPointerGetAttributes(&attributes, y + 5));
  RT_CHECK(attributes.type == cudaMemoryTypeManaged);
  RT_CHECK(attributes.devicePointer == y + 5 && attributes.hostPointer == y + 5);

  // Copies and memsets: unified addressing sees managed memory on both sides.
  RT_CUDA(cudaMemcpy(y, x, n * sizeof(float), cudaMemcpyDefault));
  RT_CHECK(y[0] == 1.0f && y[n / 2] == 1.0f && y[n - 1] == 1.0f);
  RT_CUDA(cudaMemset(x, 0, n * sizeof(float)));
  RT_CUDA(cudaDeviceSynchronize());
  int nonzero = 0;
  for (int i = 0; i < n; ++i) nonzero += x[i] != 0.0f;
  RT_CHECK(nonzero == 0);
  std::vector<float> plain(n, 7.0f);
  RT_CUDA(cudaMemcpy(x, plain.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  RT_CHECK(x[123] == 7.0f);

  // Prefetches and advice, on a stream of the program's.
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreate(&stream));
  cudaMemLocation gpu{cudaMemLocationTypeDevice, 0}, cpu{cudaMemLocationTypeHost, 0};
  RT_CUDA(cudaMemAdvise(x, n * sizeof(float), cudaMemAdviseSetReadMostly, gpu));
  int read_mostly = 0;
  RT_CUDA(cudaMemRangeGetAttribute(&read_mostly, sizeof read_mostly, cudaMemRangeAttributeReadMostly, x,
                                   n * sizeof(float)));
  RT_CHECK(read_mostly == 1);
  RT_CUDA(cudaMemPrefetchAsync(x, n * sizeof(float), gpu, 0, stream));
  RT_CUDA(cudaMemPrefetchAsync(y, n * sizeof(float), gpu, 0, stream));
  Add<<<(n + 255) / 256, 256, 0, stream>>>(n, x, y);
  RT_CUDA(cudaMemPrefetchAsync(y, n * sizeof(float), cpu, 0, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  if (options.kernel_results) RT_CHECK(y[0] == 8.0f && y[n - 1] == 8.0f);
  RT_CHECK(x[n - 1] == 7.0f);

  // UnifiedMemoryStreams without concurrent access: memory attached to the host is the host's while
  // kernels run on other streams.
  float* host_side = nullptr;
  RT_CUDA(cudaMallocManaged(&host_side, 4096, cudaMemAttachHost));
  RT_CUDA(cudaStreamAttachMemAsync(stream, host_side, 0, cudaMemAttachHost));
  RT_CUDA(cudaStreamSynchronize(stream));
  for (int i = 0; i < 1024; ++i) host_side[i] = static_cast<float>(i);
  RT_CUDA(cudaStreamAttachMemAsync(stream, host_side, 0, cudaMemAttachSingle));
  RT_CUDA(cudaStreamSynchronize(stream));
  float* copied = nullptr;
  RT_CUDA(cudaMalloc(&copied, 4096));
  RT_CUDA(cudaMemcpyAsync(copied, host_side, 4096, cudaMemcpyDefault, stream));
  std::vector<float> back(1024);
  RT_CUDA(cudaMemcpyAsync(back.data(), copied, 4096, cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(back[0] == 0.0f && back[1023] == 1023.0f);

  // A linked list built on the host in managed memory, summed on the device through its pointers.
  Node* nodes = nullptr;
  float* sum = nullptr;
  RT_CUDA(cudaMallocManaged(&nodes, 10 * sizeof(Node)));
  RT_CUDA(cudaMallocManaged(&sum, sizeof(float)));
  for (int i = 0; i < 10; ++i) nodes[i] = {static_cast<float>(i + 1), i + 1 < 10 ? &nodes[i + 1] : nullptr};
  *sum = -1.0f;
  SumList<<<1, 1>>>(nodes, sum);
  RT_CUDA(cudaDeviceSynchronize());
  if (options.kernel_results) RT_CHECK(*sum == 55.0f);
  RT_CHECK(nodes[9].next == nullptr && nodes[3].next == &nodes[4]);

  // __managed__ variables: the module's initial value on the host, host writes a kernel sees, the
  // kernel's result on the host after the synchronisation; a symbol copy reads the same bytes.
  RT_CHECK(g_counter == 7);
  g_counter = 41;
  for (int i = 0; i < 3000; ++i) g_table[i] = static_cast<float>(i);
  Bump<<<1, 1>>>();
  ScaleTable<<<1, 256>>>(2.0f);
  RT_CUDA(cudaDeviceSynchronize());
  if (options.kernel_results)
    RT_CHECK(g_counter == 42 && g_table[2999] == 5998.0f);
  else
    RT_CHECK(g_counter == 41 && g_table[2999] == 2999.0f);
  int counter_copy = 0;
  RT_CUDA(cudaMemcpyFromSymbol(&counter_copy, g_counter, sizeof counter_copy));
  RT_CHECK(counter_copy == g_counter);
  float tail = 0;
  RT_CUDA(cudaMemcpyFromSymbol(&tail, g_table, sizeof tail, 2999 * sizeof(float)));
  RT_CHECK(tail == g_table[2999]);
  cudaPointerAttributes variable{};
  RT_CUDA(cudaPointerGetAttributes(&variable, &g_counter));
  RT_CHECK(variable.type == cudaMemoryTypeManaged);

  RT_CUDA(cudaFree(nodes));
  RT_CUDA(cudaFree(sum));
  RT_CUDA(cudaFree(copied));
  RT_CUDA(cudaFree(host_side));
  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaFree(x));
  RT_CUDA(cudaFree(y));
  return rt::Finish("managed_memory");
}
