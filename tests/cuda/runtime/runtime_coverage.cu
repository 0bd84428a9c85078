// Runtime calls that reach driver entry points beyond the basics: occupancy (blocks per SM with and
// without flags, the header's cudaOccupancyMaxPotentialBlockSize templates, the driver's own
// cuOccupancyMaxPotentialBlockSize through cudaGetDriverEntryPointByVersion, available dynamic
// shared memory), a stream's id, device and attributes, stream value writes, profiler ranges, peer
// attributes. The answers are checked against the device's own limits and against each other, so
// they hold on a GPU and on the emulated device alike.
#include <cuda.h>
#include <cuda_profiler_api.h>

#include <cstring>

#include "check.h"

__global__ void Scale(float* data, int n, float by) {
  extern __shared__ float tile[];
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  tile[threadIdx.x] = i < n ? data[i] : 0.0f;
  __syncthreads();
  if (i < n) data[i] = tile[threadIdx.x] * by;
}

namespace {

struct Limits {
  int sms = 0, threads_per_sm = 0, blocks_per_sm = 0, warp = 0, max_block = 0;
  int shared_per_block_optin = 0, max_window = 0;
};

Limits ReadLimits() {
  Limits l;
  RT_CUDA(cudaDeviceGetAttribute(&l.sms, cudaDevAttrMultiProcessorCount, 0));
  RT_CUDA(cudaDeviceGetAttribute(&l.threads_per_sm, cudaDevAttrMaxThreadsPerMultiProcessor, 0));
  RT_CUDA(cudaDeviceGetAttribute(&l.blocks_per_sm, cudaDevAttrMaxBlocksPerMultiprocessor, 0));
  RT_CUDA(cudaDeviceGetAttribute(&l.warp, cudaDevAttrWarpSize, 0));
  RT_CUDA(cudaDeviceGetAttribute(&l.max_block, cudaDevAttrMaxThreadsPerBlock, 0));
  RT_CUDA(cudaDeviceGetAttribute(&l.shared_per_block_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  RT_CUDA(cudaDeviceGetAttribute(&l.max_window, cudaDevAttrMaxAccessPolicyWindowSize, 0));
  return l;
}

size_t SharedFor(int block_size) {
  return static_cast<size_t>(block_size) * sizeof(float);
}

void Occupancy(const Limits& l) {
  int blocks = -1;
  RT_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, Scale, 256, SharedFor(256)));
  RT_CHECK(blocks >= 1 && blocks <= l.blocks_per_sm && blocks * 256 <= l.threads_per_sm);
  int with_flags = -1;
  RT_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&with_flags, Scale, 256, SharedFor(256),
                                                                 cudaOccupancyDisableCachingOverride));
  RT_CHECK(with_flags == blocks);
  // More shared memory than a block may have: no block fits.
  RT_CUDA(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, Scale, 256, l.shared_per_block_optin + 1024));
  RT_CHECK(blocks == 0);

  // The header templates try every block size through the call above; the driver's own entry point
  // computes the same answer (gpupool: from one batched query).
  int min_grid = 0, block = 0;
  RT_CUDA(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, Scale, 0, 0));
  RT_CHECK(block >= l.warp && block <= l.max_block && min_grid > 0 && min_grid % l.sms == 0);
  int per_sm = 0;
  RT_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, Scale, block, 0));
  RT_CHECK(min_grid == per_sm * l.sms);
  int var_grid = 0, var_block = 0;
  RT_CUDA(cudaOccupancyMaxPotentialBlockSizeVariableSMem(&var_grid, &var_block, Scale, SharedFor, 512));
  RT_CHECK(var_block > 0 && var_block <= 512);

  cudaFunction_t function = nullptr;
  RT_CUDA(cudaGetFuncBySymbol(&function, reinterpret_cast<const void*>(Scale)));
  void* entry = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  RT_CUDA(cudaGetDriverEntryPointByVersion("cuOccupancyMaxPotentialBlockSize", &entry, 12000,
                                           cudaEnableDefault, &found));
  RT_CHECK(found == cudaDriverEntryPointSuccess && entry != nullptr);
  if (entry != nullptr && function != nullptr) {
    auto potential =
        reinterpret_cast<CUresult (*)(int*, int*, CUfunction, CUoccupancyB2DSize, size_t, int)>(entry);
    int driver_grid = 0, driver_block = 0;
    RT_CHECK(potential(
                 &driver_grid, &driver_block, reinterpret_cast<CUfunction>(function),
                 [](int b) { return SharedFor(b); }, 0, 512) == CUDA_SUCCESS);
    RT_CHECK(driver_grid == var_grid && driver_block == var_block);
    RT_CHECK(potential(nullptr, &driver_block, reinterpret_cast<CUfunction>(function), nullptr, 0, 0) ==
             CUDA_ERROR_INVALID_VALUE);
  }

  size_t available = 0;
  RT_CUDA(cudaOccupancyAvailableDynamicSMemPerBlock(&available, Scale, 2, 256));
  RT_CHECK(available > 0 && available <= static_cast<size_t>(l.shared_per_block_optin));
  // That much dynamic shared memory still lets two blocks of 256 threads share an SM.
  RT_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, Scale, 256, available));
  RT_CHECK(blocks >= 2);
}

void Streams(const Limits& l, float* data, size_t bytes) {
  cudaStream_t a = nullptr, b = nullptr;
  if (!RT_CUDA(cudaStreamCreate(&a)) || !RT_CUDA(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking)))
    return;
  unsigned long long id_a = 0, id_b = 0, id_again = 0;
  RT_CUDA(cudaStreamGetId(a, &id_a));
  RT_CUDA(cudaStreamGetId(b, &id_b));
  RT_CUDA(cudaStreamGetId(a, &id_again));
  RT_CHECK(id_a != id_b && id_a == id_again);
  int device = -1;
  RT_CUDA(cudaStreamGetDevice(b, &device));
  RT_CHECK(device == 0);

  cudaStreamAttrValue value{};
  value.syncPolicy = cudaSyncPolicyYield;
  RT_CUDA(cudaStreamSetAttribute(a, cudaStreamAttributeSynchronizationPolicy, &value));
  cudaStreamAttrValue got{};
  RT_CUDA(cudaStreamGetAttribute(a, cudaStreamAttributeSynchronizationPolicy, &got));
  RT_CHECK(got.syncPolicy == cudaSyncPolicyYield);

  int least = 0, greatest = 0;
  RT_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  value = {};
  value.priority = greatest;
  RT_CUDA(cudaStreamSetAttribute(b, cudaStreamAttributePriority, &value));
  int priority = 99;
  RT_CUDA(cudaStreamGetPriority(b, &priority));
  RT_CHECK(priority == greatest);

  // An access policy window over the program's own memory (persisting L2 lines).
  value = {};
  value.accessPolicyWindow.base_ptr = data;
  value.accessPolicyWindow.num_bytes = bytes < static_cast<size_t>(l.max_window) ? bytes : l.max_window;
  value.accessPolicyWindow.hitRatio = 0.5f;
  value.accessPolicyWindow.hitProp = cudaAccessPropertyPersisting;
  value.accessPolicyWindow.missProp = cudaAccessPropertyStreaming;
  RT_CUDA(cudaStreamSetAttribute(a, cudaStreamAttributeAccessPolicyWindow, &value));
  got = {};
  RT_CUDA(cudaStreamGetAttribute(a, cudaStreamAttributeAccessPolicyWindow, &got));
  RT_CHECK(got.accessPolicyWindow.base_ptr == data &&
           got.accessPolicyWindow.num_bytes == value.accessPolicyWindow.num_bytes &&
           got.accessPolicyWindow.hitProp == cudaAccessPropertyPersisting);
  Scale<<<1, 256, SharedFor(256), a>>>(data, 256, 2.0f);
  RT_CUDA(cudaGetLastError());
  RT_CUDA(cudaStreamSynchronize(a));
  value.accessPolicyWindow.hitRatio = 2.0f;  // outside [0, 1]
  RT_CUDA_FAILS(cudaStreamSetAttribute(a, cudaStreamAttributeAccessPolicyWindow, &value),
                cudaErrorInvalidValue);
  RT_CUDA(cudaCtxResetPersistingL2Cache());

  // Copying attributes: b takes a's synchronisation policy.
  RT_CUDA(cudaStreamCopyAttributes(b, a));
  got = {};
  RT_CUDA(cudaStreamGetAttribute(b, cudaStreamAttributeSynchronizationPolicy, &got));
  RT_CHECK(got.syncPolicy == cudaSyncPolicyYield);

  RT_CUDA(cudaStreamDestroy(a));
  RT_CUDA(cudaStreamDestroy(b));
}

// cuStreamWriteValue32/64 through the driver entry points, as libraries that order flags reach them.
void WriteValues(unsigned* words) {
  void* write32 = nullptr;
  void* write64 = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  RT_CUDA(
      cudaGetDriverEntryPointByVersion("cuStreamWriteValue32", &write32, 12000, cudaEnableDefault, &found));
  RT_CHECK(found == cudaDriverEntryPointSuccess);
  RT_CUDA(
      cudaGetDriverEntryPointByVersion("cuStreamWriteValue64", &write64, 12000, cudaEnableDefault, &found));
  RT_CHECK(found == cudaDriverEntryPointSuccess);
  if (write32 == nullptr || write64 == nullptr) return;
  using Write32 = CUresult (*)(CUstream, CUdeviceptr, cuuint32_t, unsigned);
  using Write64 = CUresult (*)(CUstream, CUdeviceptr, cuuint64_t, unsigned);
  cudaStream_t stream = nullptr;
  if (!RT_CUDA(cudaStreamCreate(&stream))) return;
  const auto base = reinterpret_cast<CUdeviceptr>(words);
  RT_CHECK(reinterpret_cast<Write32>(write32)(stream, base, 0x600dcafeu, 0) == CUDA_SUCCESS);
  RT_CHECK(reinterpret_cast<Write64>(write64)(stream, base + 8, 0x1122334455667788ull,
                                              CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER) == CUDA_SUCCESS);
  RT_CHECK(reinterpret_cast<Write32>(write32)(stream, base + 2, 1, 0) ==
           CUDA_ERROR_INVALID_VALUE);  // unaligned
  unsigned got[4] = {};
  RT_CUDA(cudaMemcpyAsync(got, words, sizeof got, cudaMemcpyDeviceToHost, stream));
  RT_CUDA(cudaStreamSynchronize(stream));
  unsigned long long wide = 0;
  std::memcpy(&wide, &got[2], sizeof wide);
  RT_CHECK(got[0] == 0x600dcafeu && wide == 0x1122334455667788ull);
  RT_CUDA(cudaStreamDestroy(stream));
}

void Peers() {
  int count = 0;
  RT_CUDA(cudaGetDeviceCount(&count));
  int value = -1;
  // A device is not its own peer; a device that does not exist is not one either.
  RT_CUDA_FAILS(cudaDeviceGetP2PAttribute(&value, cudaDevP2PAttrAccessSupported, 0, 0),
                cudaErrorInvalidDevice);
  RT_CUDA_FAILS(cudaDeviceGetP2PAttribute(&value, cudaDevP2PAttrAccessSupported, 0, count),
                cudaErrorInvalidDevice);
  if (count > 1) {
    RT_CUDA(cudaDeviceGetP2PAttribute(&value, cudaDevP2PAttrAccessSupported, 0, 1));
    int can = -1;
    RT_CUDA(cudaDeviceCanAccessPeer(&can, 0, 1));
    RT_CHECK(value == can);
  }
}

}  // namespace

int main(int argc, char** argv) {
  rt::ParseOptions(argc, argv, "runtime_coverage");
  const Limits limits = ReadLimits();
  Occupancy(limits);

  constexpr size_t kBytes = 1 << 20;
  float* data = nullptr;
  if (RT_CUDA(cudaMalloc(&data, kBytes))) {
    RT_CUDA(cudaMemset(data, 0, kBytes));
    Streams(limits, data, kBytes);
    WriteValues(reinterpret_cast<unsigned*>(data));
    RT_CUDA(cudaFree(data));
  }
  RT_CUDA(cudaProfilerStart());
  RT_CUDA(cudaProfilerStop());
  Peers();
  return rt::Finish("runtime_coverage");
}
