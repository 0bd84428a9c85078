// Interprocess memory and events through the runtime, the way PyTorch's torch.multiprocessing
// shares a CUDA tensor: the parent fills a buffer, records an interprocess event after the work and
// sends both handles to a child (forked before any CUDA call); the child opens them, makes its stream
// wait for the event, runs a kernel on the shared memory and copies the parent's bytes back; the
// parent then reads what the child's kernel and copy left. Kernel results are checked on a GPU only.
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "../child_process.h"
#include "check.h"

namespace {

constexpr int kCount = 1 << 20;

struct Handles {
  cudaIpcMemHandle_t memory;
  cudaIpcEventHandle_t event;
};

__global__ void Twice(int* data, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) data[i] *= 2;
}

int Child(int parent) {
  Handles handles{};
  if (!ReceiveMessage(parent, &handles, sizeof handles)) return 1;
  void* shared = nullptr;
  RT_CUDA(cudaIpcOpenMemHandle(&shared, handles.memory, cudaIpcMemLazyEnablePeerAccess));
  cudaEvent_t ready = nullptr;
  RT_CUDA(cudaIpcOpenEventHandle(&ready, handles.event));
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  RT_CUDA(cudaStreamWaitEvent(stream, ready, 0));
  std::vector<int> seen(kCount);
  RT_CUDA(cudaMemcpyAsync(seen.data(), shared, kCount * sizeof(int), cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  bool same = true;
  for (int i = 0; i < kCount; ++i) same = same && seen[i] == i;
  RT_CHECK(same);
  cudaPointerAttributes attributes{};
  RT_CUDA(cudaPointerGetAttributes(&attributes, static_cast<char*>(shared) + 100));
  RT_CHECK(attributes.type == cudaMemoryTypeDevice);
  Twice<<<64, 256, 0, stream>>>(static_cast<int*>(shared), kCount);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaMemsetAsync(shared, 0x7f, sizeof(int), stream));  // the first element: 0x7f7f7f7f
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CUDA(cudaIpcCloseMemHandle(shared));
  RT_CUDA(cudaEventDestroy(ready));
  RT_CUDA(cudaStreamDestroy(stream));
  const char done = rt::g_failures == 0 ? 'y' : 'n';
  return SendMessage(parent, &done, 1) && done == 'y' ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "ipc");
  ChildProcess child;
  if (!ForkChild(Child, &child)) return 1;  // before any CUDA call

  int* data = nullptr;
  RT_CUDA(cudaMalloc(&data, kCount * sizeof(int)));
  std::vector<int> values(kCount);
  for (int i = 0; i < kCount; ++i) values[i] = i;
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  RT_CUDA(cudaMemcpyAsync(data, values.data(), kCount * sizeof(int), cudaMemcpyHostToDevice, stream));
  cudaEvent_t ready = nullptr;
  RT_CUDA(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming | cudaEventInterprocess));
  RT_CUDA(cudaEventRecord(ready, stream));
  Handles handles{};
  RT_CUDA(cudaIpcGetMemHandle(&handles.memory, data));
  RT_CUDA(cudaIpcGetEventHandle(&handles.event, ready));
  // A timing event cannot be shared, as in CUDA.
  cudaEvent_t timed = nullptr;
  cudaIpcEventHandle_t refused{};
  RT_CUDA(cudaEventCreate(&timed));
  RT_CHECK(cudaIpcGetEventHandle(&refused, timed) != cudaSuccess);
  cudaGetLastError();
  RT_CUDA(cudaEventDestroy(timed));
  if (!SendMessage(child.socket, &handles, sizeof handles)) return 1;

  char done = 0;
  RT_CHECK(ReceiveMessage(child.socket, &done, 1) && done == 'y');
  int status = 0;
  RT_CHECK(waitpid(child.pid, &status, 0) == child.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::vector<int> after(kCount);
  RT_CUDA(cudaMemcpy(after.data(), data, kCount * sizeof(int), cudaMemcpyDeviceToHost));
  RT_CHECK(after[0] == 0x7f7f7f7f);  // the child's memset, in this process's memory
  if (options.kernel_results) {
    bool doubled = true;
    for (int i = 1; i < kCount; ++i) doubled = doubled && after[i] == 2 * i;
    RT_CHECK(doubled);
  }
  RT_CUDA(cudaEventDestroy(ready));
  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaFree(data));
  return rt::Finish("ipc");
}
