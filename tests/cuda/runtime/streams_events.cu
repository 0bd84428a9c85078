// Streams and events: creation with flags and priorities, recording, queries, synchronisation,
// elapsed time, and ordering across two streams joined by an event.
#include <vector>

#include "check.h"

__global__ void AddOne(unsigned char* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] = static_cast<unsigned char>(data[i] + 1);
}

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "streams_events");

  int least = 0;
  int greatest = 0;
  RT_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  RT_CHECK(greatest <= least);
  cudaStream_t a = nullptr;
  cudaStream_t b = nullptr;
  cudaStream_t high = nullptr;
  RT_CUDA(cudaStreamCreate(&a));
  RT_CUDA(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking));
  RT_CUDA(cudaStreamCreateWithPriority(&high, cudaStreamNonBlocking, greatest));
  unsigned flags = 99;
  int priority = 99;
  RT_CUDA(cudaStreamGetFlags(b, &flags));
  RT_CHECK(flags == cudaStreamNonBlocking);
  RT_CUDA(cudaStreamGetPriority(high, &priority));
  RT_CHECK(priority == greatest);

  cudaEvent_t start = nullptr;
  cudaEvent_t done = nullptr;
  cudaEvent_t untimed = nullptr;
  RT_CUDA(cudaEventCreate(&start));
  RT_CUDA(cudaEventCreate(&done));
  RT_CUDA(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming));

  // Stream a: upload, kernel, copy to a second buffer, record. Stream b waits for that event and
  // downloads the second buffer: it must see everything stream a did before the record.
  const int n = 1 << 22;
  const std::vector<unsigned char> data = rt::RandomBytes(n, 3);
  unsigned char* host_in = nullptr;
  unsigned char* host_out = nullptr;
  unsigned char* first = nullptr;
  unsigned char* second = nullptr;
  if (!RT_CUDA(cudaMallocHost(&host_in, n)) || !RT_CUDA(cudaMallocHost(&host_out, n)) ||
      !RT_CUDA(cudaMalloc(&first, n)) || !RT_CUDA(cudaMalloc(&second, n))) {
    return rt::Finish("streams_events");
  }
  std::memcpy(host_in, data.data(), n);
  RT_CUDA(cudaEventRecord(start, a));
  RT_CUDA(cudaMemcpyAsync(first, host_in, n, cudaMemcpyHostToDevice, a));
  AddOne<<<(n + 255) / 256, 256, 0, a>>>(first, n);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaMemcpyAsync(second, first, n, cudaMemcpyDeviceToDevice, a));
  RT_CUDA(cudaEventRecord(done, a));
  RT_CUDA(cudaEventRecord(untimed, a));
  RT_CUDA(cudaStreamWaitEvent(b, done, 0));
  RT_CUDA(cudaMemcpyAsync(host_out, second, n, cudaMemcpyDeviceToHost, b));
  RT_CUDA(cudaStreamSynchronize(b));
  bool same = true;
  bool plus_one = true;
  for (int i = 0; i < n; ++i) {
    same = same && host_out[i] == data[static_cast<std::size_t>(i)];
    plus_one = plus_one && host_out[i] == static_cast<unsigned char>(data[static_cast<std::size_t>(i)] + 1);
  }
  // Without kernel results the data arrives unchanged; with them, incremented.
  RT_CHECK(options.kernel_results ? plus_one : (same || plus_one));

  RT_CUDA(cudaEventSynchronize(done));
  RT_CUDA(cudaEventQuery(done));
  RT_CUDA(cudaStreamQuery(a));
  float ms = -1.0f;
  RT_CUDA(cudaEventElapsedTime(&ms, start, done));
  RT_CHECK(ms >= 0.0f);
  RT_CUDA_FAILS(cudaEventElapsedTime(&ms, start, untimed), cudaErrorInvalidResourceHandle);

  // The legacy default stream waits for stream a's (blocking) work.
  RT_CUDA(cudaMemsetAsync(first, 0x11, n, a));
  RT_CUDA(cudaMemcpy(host_out, first, 64, cudaMemcpyDeviceToHost));
  bool filled = true;
  for (int i = 0; i < 64; ++i) filled = filled && host_out[i] == 0x11;
  RT_CHECK(filled);

  RT_CUDA(cudaDeviceSynchronize());
  for (cudaEvent_t e : {start, done, untimed}) RT_CUDA(cudaEventDestroy(e));
  for (cudaStream_t s : {a, b, high}) RT_CUDA(cudaStreamDestroy(s));
  RT_CUDA(cudaFree(first));
  RT_CUDA(cudaFree(second));
  RT_CUDA(cudaFreeHost(host_in));
  RT_CUDA(cudaFreeHost(host_out));
  return rt::Finish("streams_events");
}
