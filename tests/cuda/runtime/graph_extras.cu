// The rest of CUDA graphs that the runtime resolves: stream capture modes and the calls a capture
// forbids; user objects and when their destructor runs; kernel node attributes; the generic node
// API (cudaGraphAddNode, cudaGraphNodeSetParams, cudaGraphExecNodeSetParams); graph memory
// (cudaMallocAsync / cudaFreeAsync captured, memory alloc and free nodes, relaunch with an unfreed
// allocation, the device's graph memory attributes); cudaGraphDebugDotPrint.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "check.h"

__global__ void Double(int* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] *= 2;
}

namespace {

constexpr int kN = 4096;
constexpr std::size_t kBytes = sizeof(int) * kN;

// What a test waits for: set by another thread (a destructor, a worker), with a generous timeout
// that only a broken build reaches.
struct Flag {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  void Add() {
    std::lock_guard<std::mutex> lock(mu);
    ++count;
    cv.notify_all();
  }
  bool WaitFor(int want) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return count >= want; });
  }
  int Get() {
    std::lock_guard<std::mutex> lock(mu);
    return count;
  }
};

void CUDART_CB Destroyed(void* flag) {
  static_cast<Flag*>(flag)->Add();
}

// Runs `fn` on another thread and returns its result.
template <typename Fn>
cudaError_t OnOtherThread(Fn fn) {
  cudaError_t result = cudaSuccess;
  std::thread t([&] { result = fn(); });
  t.join();
  return result;
}

void CaptureModes(cudaStream_t stream, int* device) {
  // The thread's mode: GLOBAL until exchanged.
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  RT_CUDA(cudaThreadExchangeStreamCaptureMode(&mode));
  RT_CHECK(mode == cudaStreamCaptureModeGlobal);
  RT_CUDA(cudaThreadExchangeStreamCaptureMode(&mode));
  RT_CHECK(mode == cudaStreamCaptureModeRelaxed);

  // A global capture forbids cudaMalloc on other threads (in GLOBAL mode) and on its own; the
  // forbidden call on its own thread invalidates the capture.
  void* p = nullptr;
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  RT_CUDA(cudaMemsetAsync(device, 0, 64, stream));
  RT_CUDA_FAILS(OnOtherThread([&] { return cudaMalloc(&p, 256); }), cudaErrorStreamCaptureUnsupported);
  RT_CUDA_FAILS(cudaMalloc(&p, 256), cudaErrorStreamCaptureUnsupported);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  RT_CUDA(cudaStreamIsCapturing(stream, &status));
  RT_CHECK(status == cudaStreamCaptureStatusInvalidated);
  cudaGraph_t graph = nullptr;
  RT_CUDA_FAILS(cudaStreamEndCapture(stream, &graph), cudaErrorStreamCaptureInvalidated);
  RT_CHECK(graph == nullptr);
  cudaGetLastError();

  // Synchronising with or querying a captured stream is refused in any mode, and invalidates it.
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  RT_CUDA_FAILS(cudaStreamQuery(stream), cudaErrorStreamCaptureUnsupported);
  RT_CUDA(cudaStreamIsCapturing(stream, &status));
  RT_CHECK(status == cudaStreamCaptureStatusInvalidated);
  RT_CUDA_FAILS(cudaStreamEndCapture(stream, &graph), cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();

  // An event recorded in a capture going on stands for a node, not for work: it cannot be waited for.
  cudaEvent_t event = nullptr;
  RT_CUDA(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  RT_CUDA(cudaMemsetAsync(device, 0, 64, stream));
  RT_CUDA(cudaEventRecord(event, stream));
  RT_CUDA_FAILS(cudaEventQuery(event), cudaErrorCapturedEvent);
  RT_CUDA_FAILS(cudaEventSynchronize(event), cudaErrorCapturedEvent);
  cudaGetLastError();
  if (cudaStreamEndCapture(stream, &graph) == cudaSuccess) RT_CUDA(cudaGraphDestroy(graph));
  cudaGetLastError();
  RT_CUDA(cudaEventDestroy(event));

  // In RELAXED mode this thread may allocate during its own global capture.
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  mode = cudaStreamCaptureModeRelaxed;
  RT_CUDA(cudaThreadExchangeStreamCaptureMode(&mode));
  if (RT_CUDA(cudaMalloc(&p, 256))) RT_CUDA(cudaFree(p));
  RT_CUDA(cudaThreadExchangeStreamCaptureMode(&mode));
  RT_CUDA(cudaMemsetAsync(device, 0, 64, stream));
  if (RT_CUDA(cudaStreamEndCapture(stream, &graph))) RT_CUDA(cudaGraphDestroy(graph));

  // A thread-local capture forbids nothing on other threads.
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  RT_CUDA(cudaMemsetAsync(device, 0, 64, stream));
  RT_CUDA(OnOtherThread([&] {
    void* q = nullptr;
    cudaError_t r = cudaMalloc(&q, 256);
    return r == cudaSuccess ? cudaFree(q) : r;
  }));
  if (RT_CUDA(cudaStreamEndCapture(stream, &graph))) RT_CUDA(cudaGraphDestroy(graph));
}

void UserObjects(cudaStream_t stream) {
  // The graph takes the program's reference; the instantiated graph and its launches keep the
  // object alive after the graph is destroyed; the destructor runs once, after the last goes.
  Flag destroyed;
  cudaUserObject_t object = nullptr;
  if (!RT_CUDA(cudaUserObjectCreate(&object, &destroyed, Destroyed, 1, cudaUserObjectNoDestructorSync)))
    return;
  cudaGraph_t graph = nullptr;
  RT_CUDA(cudaGraphCreate(&graph, 0));
  RT_CUDA(cudaGraphRetainUserObject(graph, object, 1, cudaGraphUserObjectMove));
  RT_CUDA_FAILS(cudaGraphReleaseUserObject(graph, object, 2), cudaErrorInvalidValue);  // it holds one
  cudaGetLastError();
  cudaGraphNode_t empty = nullptr;
  RT_CUDA(cudaGraphAddEmptyNode(&empty, graph, nullptr, 0));
  cudaGraphExec_t exec = nullptr;
  RT_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaGraphDestroy(graph));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(destroyed.Get() == 0);  // the instantiated graph still holds it
  RT_CUDA(cudaGraphExecDestroy(exec));
  RT_CHECK(destroyed.WaitFor(1));
  RT_CHECK(destroyed.Get() == 1);

  // A launch still running holds the object after its instantiated graph is destroyed: the
  // destructor waits for the launch's work (here a host node held shut).
  Flag pending;
  if (!RT_CUDA(cudaUserObjectCreate(&object, &pending, Destroyed, 1, cudaUserObjectNoDestructorSync))) return;
  RT_CUDA(cudaGraphCreate(&graph, 0));
  RT_CUDA(cudaGraphRetainUserObject(graph, object, 1, cudaGraphUserObjectMove));
  rt::HostGate gate;
  cudaHostNodeParams hold{rt::HostGate::Run, &gate};
  cudaGraphNode_t held = nullptr;
  RT_CUDA(cudaGraphAddHostNode(&held, graph, nullptr, 0, &hold));
  RT_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  RT_CUDA(cudaGraphDestroy(graph));
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaGraphExecDestroy(exec));
  RT_CHECK(pending.Get() == 0);  // the launch has not run yet
  gate.Open();
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(gate.ran);
  RT_CHECK(pending.WaitFor(1));
  RT_CHECK(pending.Get() == 1);

  // The program's own references, and a graph's taken and dropped without MOVE.
  Flag second;
  if (!RT_CUDA(cudaUserObjectCreate(&object, &second, Destroyed, 2, cudaUserObjectNoDestructorSync))) return;
  RT_CUDA(cudaUserObjectRelease(object, 1));
  RT_CUDA(cudaGraphCreate(&graph, 0));
  RT_CUDA(cudaGraphRetainUserObject(graph, object, 2, 0));
  RT_CUDA(cudaGraphReleaseUserObject(graph, object, 1));
  RT_CUDA(cudaUserObjectRetain(object, 1));
  RT_CUDA(cudaUserObjectRelease(object, 2));
  RT_CHECK(second.Get() == 0);  // the graph holds one
  RT_CUDA(cudaGraphDestroy(graph));
  RT_CHECK(second.WaitFor(1));
}

// Launches of Double in the launch log made with exactly the priority attribute (id 8).
int WithPriority(const char* launch_log) {
  std::ifstream log(launch_log);
  int count = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.find("Double") != std::string::npos && line.find("\"attributes\":[8]") != std::string::npos)
      ++count;
  }
  return count;
}

void KernelAttributes(cudaStream_t stream, int* device, int* host, const rt::Options& options) {
  cudaGraph_t graph = nullptr;
  RT_CUDA(cudaGraphCreate(&graph, 0));
  int n = kN;
  void* args[] = {&device, &n};
  cudaKernelNodeParams launch{};
  launch.func = reinterpret_cast<void*>(Double);
  launch.gridDim = dim3(kN / 256);
  launch.blockDim = dim3(256);
  launch.kernelParams = args;
  cudaGraphNode_t copy_in = nullptr, first = nullptr, second = nullptr, copy_out = nullptr;
  for (int i = 0; i < kN; ++i) host[i] = i;
  RT_CUDA(
      cudaGraphAddMemcpyNode1D(&copy_in, graph, nullptr, 0, device, host, kBytes, cudaMemcpyHostToDevice));
  RT_CUDA(cudaGraphAddKernelNode(&first, graph, &copy_in, 1, &launch));
  RT_CUDA(cudaGraphAddKernelNode(&second, graph, &first, 1, &launch));
  RT_CUDA(
      cudaGraphAddMemcpyNode1D(&copy_out, graph, &second, 1, host, device, kBytes, cudaMemcpyDeviceToHost));

  cudaLaunchAttributeValue value{};
  value.priority = 1;
  RT_CUDA(cudaGraphKernelNodeSetAttribute(first, cudaLaunchAttributePriority, &value));
  cudaLaunchAttributeValue got{};
  RT_CUDA(cudaGraphKernelNodeGetAttribute(first, cudaLaunchAttributePriority, &got));
  RT_CHECK(got.priority == 1);
  got.cooperative = 7;
  RT_CUDA(cudaGraphKernelNodeGetAttribute(first, cudaLaunchAttributeCooperative, &got));
  RT_CHECK(got.cooperative == 0);  // never set
  RT_CUDA(cudaGraphKernelNodeCopyAttributes(second, first));
  got.priority = 0;
  RT_CUDA(cudaGraphKernelNodeGetAttribute(second, cudaLaunchAttributePriority, &got));
  RT_CHECK(got.priority == 1);
  RT_CUDA_FAILS(cudaGraphKernelNodeSetAttribute(copy_in, cudaLaunchAttributePriority, &value),
                cudaErrorInvalidValue);  // not a kernel node
  cudaGetLastError();

  const int before = options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "Double") : 0;
  const int before_priority = options.launch_log != nullptr ? WithPriority(options.launch_log) : 0;
  cudaGraphExec_t exec = nullptr;
  if (RT_CUDA(cudaGraphInstantiate(&exec, graph, 0))) {
    RT_CUDA(cudaGraphLaunch(exec, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    if (options.kernel_results) {
      bool quadrupled = true;
      for (int i = 0; i < kN; ++i) quadrupled = quadrupled && host[i] == 4 * i;
      RT_CHECK(quadrupled);
    }
    // New arguments for the instantiated node keep its attributes.
    n = kN / 2;
    RT_CUDA(cudaGraphExecKernelNodeSetParams(exec, second, &launch));
    for (int i = 0; i < kN; ++i) host[i] = i;
    RT_CUDA(cudaGraphLaunch(exec, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    if (options.kernel_results) {
      bool halves = true;
      for (int i = 0; i < kN; ++i) halves = halves && host[i] == (i < kN / 2 ? 4 * i : 2 * i);
      RT_CHECK(halves);
    }
    RT_CUDA(cudaGraphExecDestroy(exec));
  }
  if (options.launch_log != nullptr) {
    // All four launches went through cuLaunchKernelEx with the priority attribute (id 8).
    RT_CHECK(rt::LaunchCount(options.launch_log, "Double") == before + 4);
    RT_CHECK(WithPriority(options.launch_log) == before_priority + 4);
  }
  RT_CUDA(cudaGraphDestroy(graph));
}

void GenericNodes(cudaStream_t stream, int* device, int* host, const rt::Options& options) {
  cudaGraph_t graph = nullptr;
  RT_CUDA(cudaGraphCreate(&graph, 0));
  cudaGraphNodeParams set{};
  set.type = cudaGraphNodeTypeMemset;
  set.memset.dst = device;
  set.memset.value = 0x11;
  set.memset.elementSize = 1;
  set.memset.width = kBytes;
  set.memset.height = 1;
  cudaGraphNode_t memset = nullptr, copy = nullptr, host_node = nullptr;
  RT_CUDA(cudaGraphAddNode(&memset, graph, nullptr, nullptr, 0, &set));
  cudaGraphNodeParams out{};
  out.type = cudaGraphNodeTypeMemcpy;
  out.memcpy.copyParams.srcPtr = make_cudaPitchedPtr(device, kBytes, kBytes, 1);
  out.memcpy.copyParams.dstPtr = make_cudaPitchedPtr(host, kBytes, kBytes, 1);
  out.memcpy.copyParams.extent = make_cudaExtent(kBytes, 1, 1);
  out.memcpy.copyParams.kind = cudaMemcpyDeviceToHost;
  RT_CUDA(cudaGraphAddNode(&copy, graph, &memset, nullptr, 1, &out));
  Flag calls;
  cudaGraphNodeParams call{};
  call.type = cudaGraphNodeTypeHost;
  call.host.fn = Destroyed;
  call.host.userData = &calls;
  RT_CUDA(cudaGraphAddNode(&host_node, graph, &copy, nullptr, 1, &call));
  cudaGraphNodeType type = cudaGraphNodeTypeEmpty;
  RT_CUDA(cudaGraphNodeGetType(copy, &type));
  RT_CHECK(type == cudaGraphNodeTypeMemcpy);

  // The graph's memset value changes before instantiation, the instantiated graph's after.
  set.memset.value = 0x22;
  RT_CUDA(cudaGraphNodeSetParams(memset, &set));
  cudaGraphExec_t exec = nullptr;
  if (!RT_CUDA(cudaGraphInstantiate(&exec, graph, 0))) return;
  const auto* bytes = reinterpret_cast<const unsigned char*>(host);
  auto all = [&](unsigned char v) {
    bool same = true;
    for (std::size_t i = 0; i < kBytes; ++i) same = same && bytes[i] == v;
    return same;
  };
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(all(0x22));
  set.memset.value = 0x33;
  RT_CUDA(cudaGraphExecNodeSetParams(exec, memset, &set));
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(all(0x33));
  RT_CHECK(calls.Get() == 2);
  cudaGraphNodeParams wrong = set;
  wrong.type = cudaGraphNodeTypeEmpty;  // not the node's kind
  RT_CUDA_FAILS(cudaGraphNodeSetParams(memset, &wrong), cudaErrorInvalidValue);
  cudaGetLastError();
  if (options.launch_log != nullptr) {
    // Through gpupool: a kind it does not support is refused by name, never half made.
    cudaGraphNodeParams semaphore{};
    semaphore.type = cudaGraphNodeTypeExtSemaphoreSignal;
    cudaGraphNode_t refused = nullptr;
    RT_CUDA_FAILS(cudaGraphAddNode(&refused, graph, nullptr, nullptr, 0, &semaphore), cudaErrorNotSupported);
    cudaGetLastError();
    std::size_t count = 0;
    RT_CUDA(cudaGraphGetNodes(graph, nullptr, &count));
    RT_CHECK(count == 3);
  }
  RT_CUDA(cudaGraphExecDestroy(exec));
  RT_CUDA(cudaGraphDestroy(graph));
}

void Fill(int* host, int round) {
  for (int i = 0; i < kN; ++i) host[i] = i * 7 + round;
}

bool Equal(const int* a, const int* b) {
  for (int i = 0; i < kN; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

void GraphMemory(cudaStream_t stream, int* in, int* out, const rt::Options& options) {
  std::size_t free_before = 0, total = 0;
  RT_CUDA(cudaMemGetInfo(&free_before, &total));
  // cudaMallocAsync / cudaFreeAsync captured: alloc and free nodes around the copies through the
  // allocated buffer, which give the bytes back at every launch.
  int* buffer = nullptr;
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  RT_CUDA(cudaMallocAsync(&buffer, kBytes, stream));
  RT_CUDA(cudaMemcpyAsync(buffer, in, kBytes, cudaMemcpyHostToDevice, stream));
  RT_CUDA(cudaMemcpyAsync(out, buffer, kBytes, cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaFreeAsync(buffer, stream));
  cudaGraph_t graph = nullptr;
  if (!RT_CUDA(cudaStreamEndCapture(stream, &graph))) return;
  std::vector<cudaGraphNode_t> nodes(8);
  std::size_t count = nodes.size();
  RT_CUDA(cudaGraphGetNodes(graph, nodes.data(), &count));
  RT_CHECK(count == 4);
  int allocs = 0, frees = 0;
  for (std::size_t i = 0; i < count && i < nodes.size(); ++i) {
    cudaGraphNodeType type = cudaGraphNodeTypeEmpty;
    RT_CUDA(cudaGraphNodeGetType(nodes[i], &type));
    if (type == cudaGraphNodeTypeMemAlloc) {
      ++allocs;
      cudaMemAllocNodeParams params{};
      RT_CUDA(cudaGraphMemAllocNodeGetParams(nodes[i], &params));
      RT_CHECK(params.dptr == buffer && params.bytesize == kBytes);
    }
    if (type == cudaGraphNodeTypeMemFree) {
      ++frees;
      void* freed = nullptr;
      RT_CUDA(cudaGraphMemFreeNodeGetParams(nodes[i], &freed));
      RT_CHECK(freed == buffer);
    }
  }
  RT_CHECK(allocs == 1 && frees == 1);

  // The DOT file names every node.
  const std::string path = "/tmp/gpupool_graph_extras_" + std::to_string(getpid()) + ".dot";
  RT_CUDA(cudaGraphDebugDotPrint(graph, path.c_str(), cudaGraphDebugDotFlagsVerbose));
  const std::string dot = ReadAll(path);
  RT_CHECK(dot.find("digraph") != std::string::npos);
  if (options.launch_log != nullptr) {  // gpupool's own labels (CUDA's format is its own)
    RT_CHECK(Count(dot, "MEM_ALLOC") == 1 && Count(dot, "MEM_FREE") == 1 && Count(dot, "MEMCPY") == 2);
    RT_CHECK(Count(dot, "->") == 3);
  }
  std::remove(path.c_str());

  cudaGraphExec_t exec = nullptr;
  if (RT_CUDA(cudaGraphInstantiate(&exec, graph, 0))) {
    for (int round = 1; round <= 3; ++round) {
      Fill(in, round);
      std::fill(out, out + kN, -1);
      RT_CUDA(cudaGraphLaunch(exec, stream));
      RT_CUDA(cudaStreamSynchronize(stream));
      RT_CHECK(Equal(in, out));
    }
    int current_device = 0;
    RT_CUDA(cudaGetDevice(&current_device));
    unsigned long long reserved = 0;
    RT_CUDA(cudaDeviceGetGraphMemAttribute(current_device, cudaGraphMemAttrReservedMemCurrent, &reserved));
    RT_CHECK(reserved >= kBytes);
    RT_CUDA(cudaGraphExecDestroy(exec));
  }
  RT_CUDA(cudaGraphDestroy(graph));

  // An allocation the graph does not free: the graph cannot run again until the program frees it.
  cudaGraph_t keeps = nullptr;
  cudaGraphNode_t alloc = nullptr, fill = nullptr;
  RT_CUDA(cudaGraphCreate(&keeps, 0));
  cudaMemAllocNodeParams params{};
  params.poolProps.allocType = cudaMemAllocationTypePinned;
  params.poolProps.location.type = cudaMemLocationTypeDevice;
  RT_CUDA(cudaGetDevice(&params.poolProps.location.id));
  params.bytesize = kBytes;
  if (!RT_CUDA(cudaGraphAddMemAllocNode(&alloc, keeps, nullptr, 0, &params))) return;
  RT_CHECK(params.dptr != nullptr);
  cudaMemsetParams set{};
  set.dst = params.dptr;
  set.value = 0x5a;
  set.elementSize = 1;
  set.width = kBytes;
  set.height = 1;
  RT_CUDA(cudaGraphAddMemsetNode(&fill, keeps, &alloc, 1, &set));
  if (RT_CUDA(cudaGraphInstantiate(&exec, keeps, 0))) {
    RT_CUDA(cudaGraphLaunch(exec, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    RT_CUDA(cudaMemcpy(out, params.dptr, kBytes, cudaMemcpyDeviceToHost));  // valid after the launch
    bool filled = true;
    for (std::size_t i = 0; i < kBytes; ++i)
      filled = filled && reinterpret_cast<unsigned char*>(out)[i] == 0x5a;
    RT_CHECK(filled);
    RT_CUDA_FAILS(cudaGraphLaunch(exec, stream), cudaErrorInvalidValue);
    cudaGetLastError();
    RT_CUDA(cudaFreeAsync(params.dptr, stream));
    RT_CUDA(cudaGraphLaunch(exec, stream));  // freed: it runs again
    RT_CUDA(cudaFree(params.dptr));
    RT_CUDA(cudaStreamSynchronize(stream));
    RT_CUDA(cudaGraphExecDestroy(exec));
  }
  // Instantiated to free on launch, it runs again without the program's free.
  if (RT_CUDA(cudaGraphInstantiateWithFlags(&exec, keeps, cudaGraphInstantiateFlagAutoFreeOnLaunch))) {
    RT_CUDA(cudaGraphLaunch(exec, stream));
    RT_CUDA(cudaGraphLaunch(exec, stream));
    RT_CUDA(cudaStreamSynchronize(stream));
    RT_CUDA(cudaFree(params.dptr));
    RT_CUDA(cudaGraphExecDestroy(exec));
  }
  RT_CUDA(cudaGraphDestroy(keeps));

  // A free node for the allocation of a node-API graph.
  cudaGraph_t both = nullptr;
  cudaGraphNode_t free_node = nullptr;
  RT_CUDA(cudaGraphCreate(&both, 0));
  params.dptr = nullptr;
  RT_CUDA(cudaGraphAddMemAllocNode(&alloc, both, nullptr, 0, &params));
  RT_CUDA(cudaGraphAddMemFreeNode(&free_node, both, &alloc, 1, params.dptr));
  if (RT_CUDA(cudaGraphInstantiate(&exec, both, 0))) {
    RT_CUDA(cudaGraphLaunch(exec, stream));
    RT_CUDA(cudaGraphLaunch(exec, stream));  // freed by its own free node
    RT_CUDA(cudaStreamSynchronize(stream));
    RT_CUDA(cudaGraphExecDestroy(exec));
  }
  RT_CUDA(cudaGraphDestroy(both));
  int current_device = 0;
  RT_CUDA(cudaGetDevice(&current_device));
  RT_CUDA(cudaDeviceGraphMemTrim(current_device));
  unsigned long long reserved = 1;
  RT_CUDA(cudaDeviceGetGraphMemAttribute(current_device, cudaGraphMemAttrReservedMemCurrent, &reserved));
  RT_CHECK(reserved == 0);  // every graph allocation was freed and its graph destroyed
  if (options.launch_log != nullptr) {
    // On the emulated device nothing else allocates meanwhile: every graph allocation went back.
    std::size_t free_after = 0;
    RT_CUDA(cudaMemGetInfo(&free_after, &total));
    RT_CHECK(free_after == free_before);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "graph_extras");
  int *in = nullptr, *out = nullptr, *device = nullptr;
  cudaStream_t stream = nullptr;
  if (!RT_CUDA(cudaMallocHost(&in, kBytes)) || !RT_CUDA(cudaMallocHost(&out, kBytes)) ||
      !RT_CUDA(cudaMalloc(&device, kBytes)) ||
      !RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking))) {
    return rt::Finish("graph_extras");
  }
  CaptureModes(stream, device);
  UserObjects(stream);
  KernelAttributes(stream, device, in, options);
  GenericNodes(stream, device, out, options);
  GraphMemory(stream, in, out, options);
  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaFree(device));
  RT_CUDA(cudaFreeHost(in));
  RT_CUDA(cudaFreeHost(out));
  return rt::Finish("graph_extras");
}
