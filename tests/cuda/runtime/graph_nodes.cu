// Graphs built node by node and graphs captured from several streams (simpleCudaGraphs style):
// memcpy, memset, kernel, host, empty, child and event nodes with their edges; instantiate and
// launch; change an instantiated graph's memset and kernel parameters; update it from a clone;
// fork/join capture across two streams, and the error when a forked stream is never joined.
#include <string>
#include <vector>

#include "check.h"

__global__ void Double(int* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] *= 2;
}

namespace {

constexpr int kN = 4096;
constexpr std::size_t kBytes = sizeof(int) * kN;

struct Buffers {
  int* in = nullptr;   // pinned
  int* out = nullptr;  // pinned
  int* device = nullptr;
};

void CountCall(void* counter) {
  ++*static_cast<int*>(counter);
}

void Fill(const Buffers& b, int round) {
  for (int i = 0; i < kN; ++i) {
    b.in[i] = i * round + 1;
    b.out[i] = -1;
  }
}

// The first `zeroed` ints hold `value`; the others were copied, and doubled below `doubled_below`.
void CheckOut(const Buffers& b, int zeroed, int value, int doubled_below, const rt::Options& options) {
  bool head = true, copied = true, doubled = true;
  for (int i = 0; i < kN; ++i) {
    if (i < zeroed) {
      head = head && b.out[i] == value;
      continue;
    }
    copied = copied && (b.out[i] == b.in[i] || b.out[i] == 2 * b.in[i]);
    const int want = i < doubled_below ? 2 * b.in[i] : b.in[i];
    doubled = doubled && b.out[i] == want;
  }
  RT_CHECK(head);
  RT_CHECK(copied);
  if (options.kernel_results) RT_CHECK(doubled);
}

void NodeByNode(const Buffers& b, cudaStream_t stream, const rt::Options& options) {
  cudaGraph_t graph = nullptr;
  if (!RT_CUDA(cudaGraphCreate(&graph, 0))) return;
  cudaGraphNode_t copy_in = nullptr, memset = nullptr, kernel = nullptr, host = nullptr, copy_out = nullptr,
                  join = nullptr;
  RT_CUDA(
      cudaGraphAddMemcpyNode1D(&copy_in, graph, nullptr, 0, b.device, b.in, kBytes, cudaMemcpyHostToDevice));
  cudaMemsetParams set{};
  set.dst = b.device;
  set.value = 0;
  set.elementSize = sizeof(int);
  set.width = 16;
  set.height = 1;
  RT_CUDA(cudaGraphAddMemsetNode(&memset, graph, &copy_in, 1, &set));
  int* data = b.device;
  int n = kN;
  void* args[] = {&data, &n};
  cudaKernelNodeParams launch{};
  launch.func = reinterpret_cast<void*>(Double);
  launch.gridDim = dim3(kN / 256);
  launch.blockDim = dim3(256);
  launch.kernelParams = args;
  RT_CUDA(cudaGraphAddKernelNode(&kernel, graph, &memset, 1, &launch));
  n = 1;  // the node copied the arguments when it was added
  int calls = 0;
  cudaHostNodeParams call{CountCall, &calls};
  RT_CUDA(cudaGraphAddHostNode(&host, graph, &kernel, 1, &call));
  RT_CUDA(cudaGraphAddMemcpyNode1D(&copy_out, graph, &kernel, 1, b.out, b.device, kBytes,
                                   cudaMemcpyDeviceToHost));
  cudaGraphNode_t last[] = {host, copy_out};
  RT_CUDA(cudaGraphAddEmptyNode(&join, graph, last, 2));

  std::size_t count = 0;
  RT_CUDA(cudaGraphGetNodes(graph, nullptr, &count));
  RT_CHECK(count == 6);
  RT_CUDA(cudaGraphGetRootNodes(graph, nullptr, &count));
  RT_CHECK(count == 1);
  std::vector<cudaGraphNode_t> from(8), to(8);
  count = from.size();
  RT_CUDA(cudaGraphGetEdges(graph, from.data(), to.data(), nullptr, &count));
  RT_CHECK(count == 6);
  RT_CUDA(cudaGraphNodeGetDependentNodes(kernel, nullptr, nullptr, &count));
  RT_CHECK(count == 2);
  cudaGraphNodeType type = cudaGraphNodeTypeEmpty;
  RT_CUDA(cudaGraphNodeGetType(kernel, &type));
  RT_CHECK(type == cudaGraphNodeTypeKernel);
  RT_CUDA(cudaGraphNodeGetType(memset, &type));
  RT_CHECK(type == cudaGraphNodeTypeMemset);
  cudaKernelNodeParams got{};
  RT_CUDA(cudaGraphKernelNodeGetParams(kernel, &got));
  RT_CHECK(got.gridDim.x == kN / 256 && got.blockDim.x == 256);
  RT_CHECK(got.kernelParams != nullptr && *static_cast<int*>(got.kernelParams[1]) == kN);

  cudaGraphExec_t exec = nullptr;
  if (!RT_CUDA(cudaGraphInstantiate(&exec, graph, 0))) return;
  for (int round = 1; round <= 2; ++round) {
    Fill(b, round);
    RT_CUDA(cudaGraphLaunch(exec, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    CheckOut(b, 16, 0, kN, options);
  }
  RT_CHECK(calls == 2);
  if (options.launch_log != nullptr) {
    const std::string params = rt::LastParams(options.launch_log, "Double");
    RT_CHECK(params.size() >= 24 && params.substr(16, 8) == "00100000");  // n = 4096
  }

  // The instantiated graph takes new memset and kernel parameters; the graph keeps its own.
  set.value = 7;
  RT_CUDA(cudaGraphExecMemsetNodeSetParams(exec, memset, &set));
  n = 100;
  RT_CUDA(cudaGraphExecKernelNodeSetParams(exec, kernel, &launch));
  Fill(b, 3);
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  CheckOut(b, 16, 7, 100, options);
  if (options.launch_log != nullptr) {
    const std::string params = rt::LastParams(options.launch_log, "Double");
    RT_CHECK(params.size() >= 24 && params.substr(16, 8) == "64000000");  // n = 100
  }
  // A disabled kernel node is skipped.
  RT_CUDA(cudaGraphNodeSetEnabled(exec, kernel, 0));
  Fill(b, 4);
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  CheckOut(b, 16, 7, 0, options);
  RT_CUDA(cudaGraphNodeSetEnabled(exec, kernel, 1));

  // A clone with a changed memset updates the instantiated graph (same shape).
  cudaGraph_t clone = nullptr;
  RT_CUDA(cudaGraphClone(&clone, graph));
  cudaGraphNode_t cloned_memset = nullptr;
  RT_CUDA(cudaGraphNodeFindInClone(&cloned_memset, memset, clone));
  set.value = 5;
  RT_CUDA(cudaGraphMemsetNodeSetParams(cloned_memset, &set));
  cudaGraphExecUpdateResultInfo info{};
  RT_CUDA(cudaGraphExecUpdate(exec, clone, &info));
  RT_CHECK(info.result == cudaGraphExecUpdateSuccess);
  Fill(b, 5);
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  CheckOut(b, 16, 5, kN, options);  // the clone's kernel node has the graph's n = 4096
  RT_CHECK(calls == 5);

  // A clone whose shape changed cannot update it; a cycle cannot be instantiated.
  cudaGraphNode_t extra = nullptr;
  RT_CUDA(cudaGraphAddEmptyNode(&extra, clone, nullptr, 0));
  RT_CHECK(cudaGraphExecUpdate(exec, clone, &info) == cudaErrorGraphExecUpdateFailure);
  RT_CHECK(info.result == cudaGraphExecUpdateErrorTopologyChanged);
  cudaGetLastError();
  cudaGraphNode_t cloned_join = nullptr, cloned_in = nullptr;
  RT_CUDA(cudaGraphNodeFindInClone(&cloned_join, join, clone));
  RT_CUDA(cudaGraphNodeFindInClone(&cloned_in, copy_in, clone));
  RT_CUDA(cudaGraphAddDependencies(clone, &cloned_join, &cloned_in, nullptr, 1));
  cudaGraphExec_t cyclic = nullptr;
  RT_CHECK(cudaGraphInstantiate(&cyclic, clone, 0) != cudaSuccess);
  cudaGetLastError();

  // The graph as a child of another, after a memset of the whole buffer.
  cudaGraph_t parent = nullptr;
  cudaGraphNode_t wipe = nullptr, child = nullptr;
  RT_CUDA(cudaGraphCreate(&parent, 0));
  set.value = 0;
  set.width = kN;
  RT_CUDA(cudaGraphAddMemsetNode(&wipe, parent, nullptr, 0, &set));
  RT_CUDA(cudaGraphAddChildGraphNode(&child, parent, &wipe, 1, graph));
  cudaGraphExec_t parent_exec = nullptr;
  RT_CUDA(cudaGraphInstantiate(&parent_exec, parent, 0));
  Fill(b, 6);
  RT_CUDA(cudaGraphLaunch(parent_exec, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  CheckOut(b, 16, 0, kN, options);
  RT_CHECK(calls == 6);

  RT_CUDA(cudaGraphExecDestroy(parent_exec));
  RT_CUDA(cudaGraphDestroy(parent));
  RT_CUDA(cudaGraphDestroy(clone));

  // The instantiated graph outlives the graph it came from, and still takes an update.
  cudaGraph_t again = nullptr;
  RT_CUDA(cudaGraphClone(&again, graph));
  RT_CUDA(cudaGraphDestroy(graph));
  RT_CUDA(cudaGraphExecUpdate(exec, again, &info));
  RT_CHECK(info.result == cudaGraphExecUpdateSuccess);
  Fill(b, 7);
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  CheckOut(b, 16, 0, kN, options);
  RT_CUDA(cudaGraphDestroy(again));
  RT_CUDA(cudaGraphExecDestroy(exec));
}

void ForkJoin(const Buffers& b, cudaStream_t s1, cudaStream_t s2) {
  const std::size_t half = kBytes / 2;
  char* bytes = reinterpret_cast<char*>(b.device);
  cudaEvent_t fork = nullptr, joined = nullptr;
  RT_CUDA(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
  RT_CUDA(cudaEventCreateWithFlags(&joined, cudaEventDisableTiming));

  RT_CUDA(cudaStreamBeginCapture(s1, cudaStreamCaptureModeGlobal));
  RT_CUDA(cudaMemcpyAsync(b.device, b.in, kBytes, cudaMemcpyHostToDevice, s1));
  RT_CUDA(cudaEventRecord(fork, s1));
  RT_CUDA(cudaStreamWaitEvent(s2, fork, 0));  // s2 joins the capture
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  RT_CUDA(cudaStreamIsCapturing(s2, &status));
  RT_CHECK(status == cudaStreamCaptureStatusActive);
  RT_CUDA(cudaMemsetAsync(bytes, 1, half, s1));
  RT_CUDA(cudaMemsetAsync(bytes + half, 2, half, s2));
  const cudaGraphNode_t* deps = nullptr;
  std::size_t ndeps = 0;
  cudaGraph_t capturing = nullptr;
  RT_CUDA(cudaStreamGetCaptureInfo(s2, &status, nullptr, &capturing, &deps, nullptr, &ndeps));
  RT_CHECK(capturing != nullptr && ndeps == 1);
  RT_CUDA(cudaEventRecord(joined, s2));
  RT_CUDA(cudaStreamWaitEvent(s1, joined, 0));  // and is joined back
  RT_CUDA(cudaMemcpyAsync(b.out, b.device, kBytes, cudaMemcpyDeviceToHost, s1));
  cudaGraph_t graph = nullptr;
  if (!RT_CUDA(cudaStreamEndCapture(s1, &graph))) return;
  RT_CUDA(cudaStreamIsCapturing(s2, &status));
  RT_CHECK(status == cudaStreamCaptureStatusNone);
  std::size_t count = 0;
  RT_CUDA(cudaGraphGetNodes(graph, nullptr, &count));
  RT_CHECK(count == 4);
  RT_CUDA(cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &count));
  RT_CHECK(count == 4);  // copy -> both memsets -> copy back

  cudaGraphExec_t exec = nullptr;
  if (RT_CUDA(cudaGraphInstantiate(&exec, graph, 0))) {
    Fill(b, 1);
    RT_CUDA(cudaGraphLaunch(exec, s1));
    RT_CUDA(cudaStreamSynchronize(s1));
    const auto* out = reinterpret_cast<const unsigned char*>(b.out);
    bool halves = true;
    for (std::size_t i = 0; i < kBytes; ++i) halves = halves && out[i] == (i < half ? 1 : 2);
    RT_CHECK(halves);
    RT_CUDA(cudaGraphExecDestroy(exec));
  }
  RT_CUDA(cudaGraphDestroy(graph));

  // A stream forked into the capture and never joined back: the capture fails and ends everywhere.
  RT_CUDA(cudaStreamBeginCapture(s1, cudaStreamCaptureModeGlobal));
  RT_CUDA(cudaEventRecord(fork, s1));
  RT_CUDA(cudaStreamWaitEvent(s2, fork, 0));
  RT_CUDA(cudaMemsetAsync(bytes, 3, half, s2));
  graph = nullptr;
  RT_CUDA_FAILS(cudaStreamEndCapture(s1, &graph), cudaErrorStreamCaptureUnjoined);
  cudaGetLastError();
  RT_CHECK(graph == nullptr);
  RT_CUDA(cudaStreamIsCapturing(s2, &status));
  RT_CHECK(status == cudaStreamCaptureStatusNone);
  RT_CUDA(cudaEventDestroy(fork));
  RT_CUDA(cudaEventDestroy(joined));
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "graph_nodes");
  Buffers b;
  cudaStream_t s1 = nullptr, s2 = nullptr;
  if (!RT_CUDA(cudaMallocHost(&b.in, kBytes)) || !RT_CUDA(cudaMallocHost(&b.out, kBytes)) ||
      !RT_CUDA(cudaMalloc(&b.device, kBytes)) ||
      !RT_CUDA(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking)) ||
      !RT_CUDA(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking))) {
    return rt::Finish("graph_nodes");
  }
  NodeByNode(b, s1, options);
  ForkJoin(b, s1, s2);
  RT_CUDA(cudaStreamDestroy(s1));
  RT_CUDA(cudaStreamDestroy(s2));
  RT_CUDA(cudaFree(b.device));
  RT_CUDA(cudaFreeHost(b.in));
  RT_CUDA(cudaFreeHost(b.out));
  return rt::Finish("graph_nodes");
}
