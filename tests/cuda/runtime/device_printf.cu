// Device printf in the manner of cuda-samples simplePrintf: a kernel's printf text reaches the
// program's stdout at the synchronisation that follows it (device, stream and event synchronize, a
// blocking copy), after the program's own earlier printf and before its later one. The program
// cannot read its own stdout: the test that runs it (runtime_programs_test.cpp, device printf
// cases) and scripts/gpu-check.sh (native vs gpupool on a GPU) compare what it printed.
//
// Extra flags: --flood N launches N more printing kernels and synchronises once; --fifo BYTES sets
// cudaLimitPrintfFifoSize first; --exit-without-sync launches the flood, makes sure the launches
// reached the device (a stream query) and leaves with _exit, before any synchronisation.
#include <unistd.h>

#include "check.h"

__global__ void DevicePrintf(int value) {
  printf("device printf: value %d from block %d\n", value, static_cast<int>(blockIdx.x));
}

namespace {

struct Flags {
  long flood = 0;
  long fifo = 0;
  bool exit_without_sync = false;
};

// Takes this program's own flags out of argv; the rest go to rt::ParseOptions.
Flags TakeFlags(int* argc, char** argv) {
  Flags flags;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strcmp(argv[i], "--flood") == 0 && i + 1 < *argc) {
      flags.flood = std::strtol(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--fifo") == 0 && i + 1 < *argc) {
      flags.fifo = std::strtol(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--exit-without-sync") == 0) {
      flags.exit_without_sync = true;
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  if (flags.flood < 0 || flags.fifo < 0) {
    std::fprintf(stderr, "usage: device_printf [--flood N] [--fifo BYTES] [--exit-without-sync] ...\n");
    std::exit(2);
  }
  return flags;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = TakeFlags(&argc, argv);
  rt::ParseOptions(argc, argv, "device_printf");
  if (flags.fifo > 0) {
    RT_CUDA(cudaDeviceSetLimit(cudaLimitPrintfFifoSize, static_cast<size_t>(flags.fifo)));
    size_t fifo = 0;
    RT_CUDA(cudaDeviceGetLimit(&fifo, cudaLimitPrintfFifoSize));
    RT_CHECK(fifo >= static_cast<size_t>(flags.fifo));
  }

  if (flags.flood == 0) {
    std::printf("host: before device synchronize\n");
    DevicePrintf<<<1, 1>>>(1);
    RT_CUDA(cudaDeviceSynchronize());
    std::printf("host: after device synchronize\n");

    cudaStream_t stream = nullptr;
    RT_CUDA(cudaStreamCreate(&stream));
    std::printf("host: before stream synchronize\n");
    DevicePrintf<<<1, 1, 0, stream>>>(2);
    RT_CUDA(cudaStreamSynchronize(stream));
    std::printf("host: after stream synchronize\n");

    cudaEvent_t event = nullptr;
    RT_CUDA(cudaEventCreate(&event));
    std::printf("host: before event synchronize\n");
    DevicePrintf<<<1, 1, 0, stream>>>(3);
    RT_CUDA(cudaEventRecord(event, stream));
    RT_CUDA(cudaEventSynchronize(event));
    std::printf("host: after event synchronize\n");

    int* device = nullptr;
    int host = 0;
    RT_CUDA(cudaMalloc(&device, sizeof(int)));
    std::printf("host: before blocking copy\n");
    DevicePrintf<<<1, 1>>>(4);
    RT_CUDA(cudaMemcpy(&host, device, sizeof(int), cudaMemcpyDeviceToHost));
    std::printf("host: after blocking copy\n");
    RT_CUDA(cudaFree(device));
    RT_CUDA(cudaEventDestroy(event));
    RT_CUDA(cudaStreamDestroy(stream));
  } else {
    for (long i = 0; i < flags.flood; ++i) DevicePrintf<<<1, 1>>>(static_cast<int>(i));
    RT_CUDA(cudaGetLastError());
    if (flags.exit_without_sync) {
      // Answered, so every launch before it has reached the device; but no synchronisation.
      (void)cudaStreamQuery(nullptr);
      std::fflush(stdout);
      ::_exit(0);
    }
    RT_CUDA(cudaDeviceSynchronize());
    std::printf("host: flood of %ld launches synchronised\n", flags.flood);
  }
  return rt::Finish("device_printf");
}
