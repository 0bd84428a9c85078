// Graphs by stream capture: capture copies, a memset and a kernel, instantiate, launch twice with
// different inputs, and check what the copies and the memset produced.
#include <vector>

#include "check.h"

__global__ void Double(int* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] *= 2;
}

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "graph_capture");
  const int n = 4096;
  const std::size_t bytes = sizeof(int) * n;
  int* host_in = nullptr;
  int* host_out = nullptr;
  int* device = nullptr;
  cudaStream_t stream = nullptr;
  if (!RT_CUDA(cudaMallocHost(&host_in, bytes)) || !RT_CUDA(cudaMallocHost(&host_out, bytes)) ||
      !RT_CUDA(cudaMalloc(&device, bytes)) ||
      !RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking))) {
    return rt::Finish("graph_capture");
  }

  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  RT_CUDA(cudaStreamIsCapturing(stream, &status));
  RT_CHECK(status == cudaStreamCaptureStatusNone);
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  RT_CUDA(cudaStreamIsCapturing(stream, &status));
  RT_CHECK(status == cudaStreamCaptureStatusActive);
  RT_CUDA(cudaMemcpyAsync(device, host_in, bytes, cudaMemcpyHostToDevice, stream));
  RT_CUDA(cudaMemsetAsync(device, 0, 16 * sizeof(int), stream));  // the first 16 ints become 0
  Double<<<n / 256, 256, 0, stream>>>(device, n);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaMemcpyAsync(host_out, device, bytes, cudaMemcpyDeviceToHost, stream));
  cudaGraph_t graph = nullptr;
  if (!RT_CUDA(cudaStreamEndCapture(stream, &graph))) return rt::Finish("graph_capture");
  RT_CUDA(cudaStreamIsCapturing(stream, &status));
  RT_CHECK(status == cudaStreamCaptureStatusNone);

  std::size_t nodes = 0;
  RT_CUDA(cudaGraphGetNodes(graph, nullptr, &nodes));
  RT_CHECK(nodes == 4);
  cudaGraphExec_t exec = nullptr;
  if (!RT_CUDA(cudaGraphInstantiate(&exec, graph, 0))) return rt::Finish("graph_capture");

  // Nothing ran during capture; each launch runs the whole graph on the current inputs.
  for (int round = 1; round <= 2; ++round) {
    for (int i = 0; i < n; ++i) {
      host_in[i] = i * round + 1;
      host_out[i] = -1;
    }
    RT_CUDA(cudaGraphLaunch(exec, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    bool zeroed = true;
    bool copied = true;
    bool doubled = true;
    for (int i = 0; i < n; ++i) {
      if (i < 16) zeroed = zeroed && host_out[i] == 0;
      if (i >= 16) {
        copied = copied && (host_out[i] == host_in[i] || host_out[i] == 2 * host_in[i]);
        doubled = doubled && host_out[i] == 2 * host_in[i];
      }
    }
    RT_CHECK(zeroed);
    RT_CHECK(copied);
    if (options.kernel_results) RT_CHECK(doubled);
  }

  // Ending a capture that never began is an error, and the stream stays usable.
  cudaGraph_t none = nullptr;
  RT_CHECK(cudaStreamEndCapture(stream, &none) != cudaSuccess);
  cudaGetLastError();
  RT_CUDA(cudaMemsetAsync(device, 0, bytes, stream));
  RT_CUDA(cudaStreamSynchronize(stream));

  RT_CUDA(cudaGraphExecDestroy(exec));
  RT_CUDA(cudaGraphDestroy(graph));
  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaFree(device));
  RT_CUDA(cudaFreeHost(host_in));
  RT_CUDA(cudaFreeHost(host_out));
  return rt::Finish("graph_capture");
}
