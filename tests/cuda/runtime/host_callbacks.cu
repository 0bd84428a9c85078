// Host callbacks in stream order, in the manner of cuda-samples simpleCallback and asyncAPI:
// cudaLaunchHostFunc and cudaStreamAddCallback run after the stream's earlier work and before its
// later work; the legacy NULL stream, events and graphs (host nodes) keep that order too.
//
// "Later work waits" is checked without timing: a gate callback blocks until the program has
// queued later work and opened the gate; the later work reads pinned memory the callback writes,
// so it must see what the callback wrote. With --launch-log, callbacks also count the kernels the
// device has received: exactly those launched before them.
#include <vector>

#include "check.h"

__global__ void KernelBeforeHost(int* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] += 1;
}

__global__ void KernelAfterHost(int* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] *= 2;
}

__global__ void KernelInGraph(int* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] += 3;
}

namespace {

const int kN = 1 << 16;
rt::Options g_options;

// A gate callback that fills `pinned` with `value` once opened (pinned starts at -1).
void FillWhenOpen(rt::HostGate* gate, int* pinned, int value) {
  for (int i = 0; i < kN; ++i) pinned[i] = -1;
  gate->then = [pinned, value] {
    for (int i = 0; i < kN; ++i) pinned[i] = value;
  };
}

bool AllEqual(const int* data, int n, int value) {
  for (int i = 0; i < n; ++i) {
    if (data[i] != value) return false;
  }
  return true;
}

// Later work on the stream (a copy from pinned memory the gate callback fills) runs after it.
void GateOrdersLaterWork(int* device, int* pinned, int* out) {
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  rt::HostGate gate;
  FillWhenOpen(&gate, pinned, 7);
  RT_CUDA(cudaLaunchHostFunc(stream, rt::HostGate::Run, &gate));
  RT_CUDA(cudaMemcpyAsync(device, pinned, kN * sizeof(int), cudaMemcpyHostToDevice, stream));
  RT_CHECK(cudaStreamQuery(stream) == cudaErrorNotReady);  // the callback waits for the gate
  gate.Open();
  RT_CUDA(cudaMemcpyAsync(out, device, kN * sizeof(int), cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(gate.ran);
  RT_CHECK(AllEqual(out, kN, 7));
  RT_CUDA(cudaStreamQuery(stream));
  RT_CUDA(cudaStreamDestroy(stream));
}

// An event recorded after a callback completes after it; a stream that waits for the event waits
// for the callback; the legacy NULL stream's callback holds blocking streams back.
void EventsAndLegacyStream(int* device, int* pinned, int* out) {
  cudaStream_t first = nullptr, second = nullptr, blocking = nullptr;
  RT_CUDA(cudaStreamCreateWithFlags(&first, cudaStreamNonBlocking));
  RT_CUDA(cudaStreamCreateWithFlags(&second, cudaStreamNonBlocking));
  RT_CUDA(cudaStreamCreate(&blocking));
  cudaEvent_t after = nullptr;
  RT_CUDA(cudaEventCreateWithFlags(&after, cudaEventDisableTiming));

  rt::HostGate gate;
  FillWhenOpen(&gate, pinned, 11);
  RT_CUDA(cudaLaunchHostFunc(first, rt::HostGate::Run, &gate));
  RT_CUDA(cudaEventRecord(after, first));
  RT_CHECK(cudaEventQuery(after) == cudaErrorNotReady);
  RT_CUDA(cudaStreamWaitEvent(second, after, 0));
  RT_CUDA(cudaMemcpyAsync(device, pinned, kN * sizeof(int), cudaMemcpyHostToDevice, second));
  gate.Open();
  RT_CUDA(cudaEventSynchronize(after));
  RT_CHECK(gate.ran);
  RT_CUDA(cudaMemcpyAsync(out, device, kN * sizeof(int), cudaMemcpyDeviceToHost, second));
  RT_CUDA(cudaStreamSynchronize(second));
  RT_CHECK(AllEqual(out, kN, 11));

  // A callback on the legacy NULL stream: a blocking stream's later copy waits for it.
  rt::HostGate legacy;
  FillWhenOpen(&legacy, pinned, 13);
  RT_CUDA(cudaLaunchHostFunc(nullptr, rt::HostGate::Run, &legacy));
  RT_CUDA(cudaMemcpyAsync(device, pinned, kN * sizeof(int), cudaMemcpyHostToDevice, blocking));
  legacy.Open();
  RT_CUDA(cudaDeviceSynchronize());
  RT_CHECK(legacy.ran);
  RT_CUDA(cudaMemcpy(out, device, kN * sizeof(int), cudaMemcpyDeviceToHost));
  RT_CHECK(AllEqual(out, kN, 13));

  RT_CUDA(cudaEventDestroy(after));
  for (cudaStream_t s : {first, second, blocking}) RT_CUDA(cudaStreamDestroy(s));
}

// simpleCallback: several workers, each a stream with upload, kernel, download and a callback
// that finds the downloaded result there (the stream's earlier work is complete).
struct Worker {
  cudaStream_t stream = nullptr;
  int* device = nullptr;
  int* in = nullptr;
  int* out = nullptr;
  int id = 0;
  bool called = false;
  bool status_ok = false;
  bool data_ready = false;
  int launched_before = -1;  // KernelBeforeHost launches the device had received (with --launch-log)
  int launched_after = -1;   // KernelAfterHost launches likewise
};

void CUDART_CB WorkerDone(cudaStream_t, cudaError_t status, void* data) {
  auto* w = static_cast<Worker*>(data);
  w->called = true;
  w->status_ok = status == cudaSuccess;
  bool ready = true;
  for (int i = 0; i < kN; ++i) {
    const int plain = w->id * 1000 + i % 1000;
    ready = ready && (w->out[i] == plain || w->out[i] == plain + 1);
    if (g_options.kernel_results) ready = ready && w->out[i] == plain + 1;
  }
  w->data_ready = ready;
  if (g_options.launch_log != nullptr) {
    w->launched_before = rt::LaunchCount(g_options.launch_log, "KernelBeforeHost");
    w->launched_after = rt::LaunchCount(g_options.launch_log, "KernelAfterHost");
  }
}

void Workers() {
  const int count = 4;
  std::vector<Worker> workers(count);
  for (int w = 0; w < count; ++w) {
    Worker& k = workers[static_cast<std::size_t>(w)];
    k.id = w;
    RT_CUDA(cudaStreamCreateWithFlags(&k.stream, cudaStreamNonBlocking));
    RT_CUDA(cudaMalloc(&k.device, kN * sizeof(int)));
    RT_CUDA(cudaMallocHost(&k.in, kN * sizeof(int)));
    RT_CUDA(cudaMallocHost(&k.out, kN * sizeof(int)));
    for (int i = 0; i < kN; ++i) {
      k.in[i] = w * 1000 + i % 1000;
      k.out[i] = -1;
    }
  }
  // All kernels before the callbacks are launched first, so each callback must count all of
  // them and none of the kernels launched after the callbacks.
  for (Worker& k : workers) {
    RT_CUDA(cudaMemcpyAsync(k.device, k.in, kN * sizeof(int), cudaMemcpyHostToDevice, k.stream));
    KernelBeforeHost<<<kN / 256, 256, 0, k.stream>>>(k.device, kN);
    RT_CUDA(cudaGetLastError());
    RT_CUDA(cudaMemcpyAsync(k.out, k.device, kN * sizeof(int), cudaMemcpyDeviceToHost, k.stream));
  }
  for (Worker& k : workers) RT_CUDA(cudaStreamAddCallback(k.stream, WorkerDone, &k, 0));
  for (Worker& k : workers) {
    KernelAfterHost<<<kN / 256, 256, 0, k.stream>>>(k.device, kN);
    RT_CUDA(cudaGetLastError());
  }
  RT_CUDA(cudaDeviceSynchronize());
  for (Worker& k : workers) {
    RT_CHECK(k.called);
    RT_CHECK(k.status_ok);
    RT_CHECK(k.data_ready);
    if (g_options.launch_log != nullptr) {
      RT_CHECK(k.launched_before == count);
      // Each stream's later kernel waits for its own callback (other streams' may have arrived),
      // so no callback can see all of them.
      RT_CHECK(k.launched_after >= 0 && k.launched_after < count);
    }
  }
  if (g_options.launch_log != nullptr)
    RT_CHECK(rt::LaunchCount(g_options.launch_log, "KernelAfterHost") == count);
  for (Worker& k : workers) {
    RT_CUDA(cudaStreamDestroy(k.stream));
    RT_CUDA(cudaFree(k.device));
    RT_CUDA(cudaFreeHost(k.in));
    RT_CUDA(cudaFreeHost(k.out));
  }
}

// Host nodes: cudaLaunchHostFunc while capturing becomes a node that each graph launch runs in
// order between the kernels around it.
struct GraphTrace {
  std::vector<int> seen;  // per host node run: KernelInGraph launches the device had received, or -1
  std::vector<char> order;
};

void CUDART_CB HostNodeA(void* data) {
  auto* t = static_cast<GraphTrace*>(data);
  t->order.push_back('A');
  t->seen.push_back(g_options.launch_log != nullptr ? rt::LaunchCount(g_options.launch_log, "KernelInGraph")
                                                    : -1);
}

void CUDART_CB HostNodeB(void* data) {
  auto* t = static_cast<GraphTrace*>(data);
  t->order.push_back('B');
  t->seen.push_back(g_options.launch_log != nullptr ? rt::LaunchCount(g_options.launch_log, "KernelInGraph")
                                                    : -1);
}

void GraphHostNodes(int* device) {
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  GraphTrace trace;
  RT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  RT_CUDA(cudaLaunchHostFunc(stream, HostNodeA, &trace));
  KernelInGraph<<<kN / 256, 256, 0, stream>>>(device, kN);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaLaunchHostFunc(stream, HostNodeB, &trace));
  cudaGraph_t graph = nullptr;
  if (!RT_CUDA(cudaStreamEndCapture(stream, &graph))) return;
  RT_CHECK(trace.order.empty());  // nothing runs during capture
  std::size_t nodes = 0;
  RT_CUDA(cudaGraphGetNodes(graph, nullptr, &nodes));
  RT_CHECK(nodes == 3);
  cudaGraphExec_t exec = nullptr;
  if (!RT_CUDA(cudaGraphInstantiate(&exec, graph, 0))) return;
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaGraphLaunch(exec, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK((trace.order == std::vector<char>{'A', 'B', 'A', 'B'}));
  if (g_options.launch_log != nullptr) RT_CHECK((trace.seen == std::vector<int>{0, 1, 1, 2}));
  RT_CUDA(cudaGraphExecDestroy(exec));
  RT_CUDA(cudaGraphDestroy(graph));
  RT_CUDA(cudaStreamDestroy(stream));
}

// A callback that calls CUDA (which CUDA forbids) on another stream: no crash, no deadlock.
struct Nested {
  cudaStream_t other = nullptr;
  int* device = nullptr;
  cudaError_t memset = cudaSuccess;
};

void CUDART_CB CallsCuda(void* data) {
  auto* n = static_cast<Nested*>(data);
  n->memset = cudaMemsetAsync(n->device, 0, kN * sizeof(int), n->other);
}

void CallbackCallingCuda(int* device) {
  cudaStream_t stream = nullptr;
  Nested nested;
  nested.device = device;
  RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  RT_CUDA(cudaStreamCreateWithFlags(&nested.other, cudaStreamNonBlocking));
  RT_CUDA(cudaLaunchHostFunc(stream, CallsCuda, &nested));
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CHECK(nested.memset == cudaSuccess || nested.memset == cudaErrorNotPermitted);
  cudaGetLastError();
  RT_CUDA(cudaStreamSynchronize(nested.other));
  RT_CUDA(cudaStreamDestroy(nested.other));
  RT_CUDA(cudaStreamDestroy(stream));
}

void CUDART_CB Nothing(void*) {}
void CUDART_CB NothingCallback(cudaStream_t, cudaError_t, void*) {}

void BadArguments() {
  RT_CUDA_FAILS(cudaLaunchHostFunc(nullptr, nullptr, nullptr), cudaErrorInvalidValue);
  RT_CUDA_FAILS(cudaStreamAddCallback(nullptr, NothingCallback, nullptr, 1), cudaErrorInvalidValue);
  cudaGetLastError();
  // Still usable afterwards.
  RT_CUDA(cudaLaunchHostFunc(nullptr, Nothing, nullptr));
  RT_CUDA(cudaDeviceSynchronize());
}

}  // namespace

int main(int argc, char** argv) {
  g_options = rt::ParseOptions(argc, argv, "host_callbacks");
  int* device = nullptr;
  int* pinned = nullptr;
  int* out = nullptr;
  if (!RT_CUDA(cudaMalloc(&device, kN * sizeof(int))) ||
      !RT_CUDA(cudaMallocHost(&pinned, kN * sizeof(int))) ||
      !RT_CUDA(cudaMallocHost(&out, kN * sizeof(int)))) {
    return rt::Finish("host_callbacks");
  }
  GateOrdersLaterWork(device, pinned, out);
  EventsAndLegacyStream(device, pinned, out);
  Workers();
  GraphHostNodes(device);
  CallbackCallingCuda(device);
  BadArguments();
  RT_CUDA(cudaFree(device));
  RT_CUDA(cudaFreeHost(pinned));
  RT_CUDA(cudaFreeHost(out));
  return rt::Finish("host_callbacks");
}
