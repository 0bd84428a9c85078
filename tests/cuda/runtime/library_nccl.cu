// NCCL with one rank, as a training script run on one GPU uses it (torch.distributed with world size
// 1, torchrun --nproc_per_node=1), and with two ranks in one process where there are two GPUs:
// communicators made three ways, every collective out of place and in
// place, grouped calls, a reduction and a send to itself that launch NCCL's kernels, buffer
// registration, NCCL's allocator. NCCL reads the GPU's topology
// through NVML, which gpupool's libnvidia-ml.so.1 answers. With one rank every collective but an
// average is a device-to-device copy, which the emulated device performs, so those results are checked
// everywhere; the kernels' results are checked on a GPU and, through the emulated device, their launches.
#include <nccl.h>

#include <vector>

#include "check.h"

namespace {

constexpr std::size_t kCount = 1 << 18;  // 1 MiB of floats

std::vector<float> Read(const float* device, cudaStream_t stream) {
  std::vector<float> host(kCount, -1.0f);
  RT_CUDA(cudaStreamSynchronize(stream));
  RT_CUDA(cudaMemcpy(host.data(), device, kCount * sizeof(float), cudaMemcpyDeviceToHost));
  return host;
}

// Each one-rank collective: out of place the output is the input; in place nothing changes.
void Collectives(ncclComm_t comm, const std::vector<float>& input, const rt::Options& options) {
  float* send = nullptr;
  float* recv = nullptr;
  RT_CUDA(cudaMalloc(&send, kCount * sizeof(float)));
  RT_CUDA(cudaMalloc(&recv, kCount * sizeof(float)));
  RT_CUDA(cudaMemcpy(send, input.data(), kCount * sizeof(float), cudaMemcpyHostToDevice));
  cudaStream_t stream = nullptr;
  RT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  auto fresh = [&] { RT_CUDA(cudaMemset(recv, 0, kCount * sizeof(float))); };
  fresh();
  RT_STATUS(ncclAllReduce(send, recv, kCount, ncclFloat, ncclSum, comm, stream));
  RT_CHECK(Read(recv, stream) == input);
  fresh();
  RT_STATUS(ncclBroadcast(send, recv, kCount, ncclFloat, 0, comm, stream));
  RT_CHECK(Read(recv, stream) == input);
  fresh();
  RT_STATUS(ncclReduce(send, recv, kCount, ncclFloat, ncclMax, 0, comm, stream));
  RT_CHECK(Read(recv, stream) == input);
  fresh();
  RT_STATUS(ncclAllGather(send, recv, kCount, ncclFloat, comm, stream));
  RT_CHECK(Read(recv, stream) == input);
  fresh();
  RT_STATUS(ncclReduceScatter(send, recv, kCount, ncclFloat, ncclSum, comm, stream));
  RT_CHECK(Read(recv, stream) == input);
  // In place, then grouped: two reductions launched together.
  RT_STATUS(ncclAllReduce(send, send, kCount, ncclFloat, ncclSum, comm, stream));
  RT_CHECK(Read(send, stream) == input);
  fresh();
  RT_STATUS(ncclGroupStart());
  RT_STATUS(ncclAllReduce(send, recv, kCount / 2, ncclFloat, ncclSum, comm, stream));
  RT_STATUS(
      ncclAllReduce(send + kCount / 2, recv + kCount / 2, kCount / 2, ncclFloat, ncclMin, comm, stream));
  RT_STATUS(ncclGroupEnd());
  RT_CHECK(Read(recv, stream) == input);

  // An average scales by 1/ranks in NCCL's own kernel, even for one rank.
  const int before = options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "oneRankReduce") : 0;
  fresh();
  RT_STATUS(ncclAllReduce(send, recv, kCount, ncclFloat, ncclAvg, comm, stream));
  const std::vector<float> average = Read(recv, stream);
  if (options.launch_log != nullptr)
    RT_CHECK(rt::LaunchCount(options.launch_log, "oneRankReduce") == before + 1);
  if (options.kernel_results) RT_CHECK(rt::Near(average, input));

  // A rank sending to itself (all-to-all with one rank) goes through NCCL's send/receive kernel, whose
  // launch passes only the used part of its 4 KiB argument structure.
  const int sends = options.launch_log != nullptr ? rt::LaunchCount(options.launch_log, "SendRecv") : 0;
  fresh();
  RT_STATUS(ncclGroupStart());
  RT_STATUS(ncclSend(send, kCount, ncclFloat, 0, comm, stream));
  RT_STATUS(ncclRecv(recv, kCount, ncclFloat, 0, comm, stream));
  RT_STATUS(ncclGroupEnd());
  const std::vector<float> received = Read(recv, stream);
  if (options.launch_log != nullptr) RT_CHECK(rt::LaunchCount(options.launch_log, "SendRecv") == sends + 1);
  if (options.kernel_results) RT_CHECK(received == input);

  // A buffer registered with the communicator, as PyTorch's allocator hook does.
  void* handle = nullptr;
  if (RT_STATUS(ncclCommRegister(comm, send, kCount * sizeof(float), &handle))) {
    RT_STATUS(ncclCommDeregister(comm, handle));
  }

  RT_CUDA(cudaStreamDestroy(stream));
  RT_CUDA(cudaFree(send));
  RT_CUDA(cudaFree(recv));
}

// Two ranks in one process, one per GPU (a pod with two GPUs of a server, as DataParallel or a
// single-process program uses them): NCCL takes its P2P transport where NVML and CUDA report peer
// access. An all-reduce sums both ranks' inputs and a broadcast copies rank 0's to rank 1; the sums
// are kernels' results, checked on a GPU.
void TwoRanks(const std::vector<float>& input, const rt::Options& options) {
  int devices[2] = {0, 1};
  ncclComm_t comms[2] = {nullptr, nullptr};
  if (!RT_STATUS(ncclCommInitAll(comms, 2, devices))) return;
  float* buffers[2] = {nullptr, nullptr};
  cudaStream_t streams[2] = {nullptr, nullptr};
  for (int r = 0; r < 2; ++r) {
    RT_CUDA(cudaSetDevice(r));
    RT_CUDA(cudaMalloc(&buffers[r], kCount * sizeof(float)));
    RT_CUDA(cudaMemcpy(buffers[r], input.data(), kCount * sizeof(float), cudaMemcpyHostToDevice));
    RT_CUDA(cudaStreamCreate(&streams[r]));
  }
  RT_STATUS(ncclGroupStart());
  for (int r = 0; r < 2; ++r)
    RT_STATUS(ncclAllReduce(buffers[r], buffers[r], kCount, ncclFloat, ncclSum, comms[r], streams[r]));
  RT_STATUS(ncclGroupEnd());
  std::vector<float> doubled(input);
  for (float& v : doubled) v *= 2;
  for (int r = 0; r < 2; ++r) {
    RT_CUDA(cudaSetDevice(r));
    const std::vector<float> sum = Read(buffers[r], streams[r]);
    if (options.kernel_results) RT_CHECK(rt::Near(sum, doubled));
  }
  RT_STATUS(ncclGroupStart());
  for (int r = 0; r < 2; ++r)
    RT_STATUS(ncclBroadcast(buffers[r], buffers[r], kCount, ncclFloat, 0, comms[r], streams[r]));
  RT_STATUS(ncclGroupEnd());
  for (int r = 0; r < 2; ++r) {
    RT_CUDA(cudaSetDevice(r));
    RT_CUDA(cudaStreamSynchronize(streams[r]));
  }
  for (int r = 0; r < 2; ++r) {
    RT_CUDA(cudaSetDevice(r));
    RT_STATUS(ncclCommDestroy(comms[r]));
    RT_CUDA(cudaStreamDestroy(streams[r]));
    RT_CUDA(cudaFree(buffers[r]));
  }
  RT_CUDA(cudaSetDevice(0));
  std::printf("two ranks in one process: all-reduce and broadcast done\n");
}

}  // namespace

int main(int argc, char** argv) {
  const rt::Options options = rt::ParseOptions(argc, argv, "library_nccl");
  int version = 0;
  RT_STATUS(ncclGetVersion(&version));
  RT_CHECK(version >= 21800);
  const std::vector<float> input = rt::RandomFloats(kCount, 7);

  // As torch.distributed makes it: a unique id, then the rank joins with a configuration; a group
  // (torch.distributed.new_group) splits from it.
  ncclUniqueId id{};
  RT_STATUS(ncclGetUniqueId(&id));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 1;
  ncclComm_t comm = nullptr;
  if (RT_STATUS(ncclCommInitRankConfig(&comm, 1, id, 0, &config))) {
    int count = 0, device = -1, rank = -1;
    RT_STATUS(ncclCommCount(comm, &count));
    RT_STATUS(ncclCommCuDevice(comm, &device));
    RT_STATUS(ncclCommUserRank(comm, &rank));
    RT_CHECK(count == 1 && device == 0 && rank == 0);
    Collectives(comm, input, options);
    ncclComm_t group = nullptr;
    if (RT_STATUS(ncclCommSplit(comm, 0, 0, &group, nullptr))) {
      Collectives(group, input, options);
      RT_STATUS(ncclCommDestroy(group));
    }
    RT_STATUS(ncclCommFinalize(comm));
    RT_STATUS(ncclCommDestroy(comm));
  }

  // NCCL's own allocator (it falls back to cudaMalloc where the device has no virtual memory
  // management, as gpupool's devices report).
  void* block = nullptr;
  if (RT_STATUS(ncclMemAlloc(&block, 1 << 20))) {
    RT_CHECK(block != nullptr);
    RT_CUDA(cudaMemset(block, 0x5a, 1 << 20));
    RT_STATUS(ncclMemFree(block));
  }

  // As a single-process program makes it: one communicator per listed device.
  int devices[1] = {0};
  comm = nullptr;
  if (RT_STATUS(ncclCommInitAll(&comm, 1, devices))) {
    Collectives(comm, input, options);
    RT_STATUS(ncclCommDestroy(comm));
  }

  int gpus = 0;
  RT_CUDA(cudaGetDeviceCount(&gpus));
  if (gpus >= 2) TwoRanks(input, options);
  return rt::Finish("library_nccl");
}
