// Driver calls the CUDA runtime and NVIDIA libraries resolve beyond the basics, as a plain driver-API
// program makes them: modules and libraries loaded from a file (and a missing file), occupancy
// (cuOccupancyMaxPotentialBlockSize with a shared-memory callback against every block size asked
// one by one, clusters), a stream's context and device, peer access and atomics on one device,
// shared memory bank configuration, pool access, tensor maps, the deprecated cuCtxDetach and
// cuProfilerInitialize, cuMemDiscardBatchAsync refused with managed memory.
// Usage: driver_coverage KERNELS.fatbin
#include <cudaProfiler.h>

#include <cstring>

#include "check.h"

namespace {

size_t SharedFor(int block_size) {
  return static_cast<size_t>(block_size) * 16;
}

void Modules(const char* path, CUfunction* function) {
  CUmodule module = nullptr;
  if (CU_OK(cuModuleLoad(&module, path))) {
    CU_OK(cuModuleGetFunction(function, module, "k_ptr_size"));
  }
  CUmodule missing = nullptr;
  CU_EXPECT(cuModuleLoad(&missing, "/nonexistent/gpupool/kernels.fatbin"), CUDA_ERROR_FILE_NOT_FOUND);
  CU_EXPECT(cuModuleLoad(&missing, nullptr), CUDA_ERROR_INVALID_VALUE);
  CUlibrary library = nullptr;
  if (CU_OK(cuLibraryLoadFromFile(&library, path, nullptr, nullptr, 0, nullptr, nullptr, 0))) {
    CUkernel kernel = nullptr;
    CU_OK(cuLibraryGetKernel(&kernel, library, "k_int"));
    CU_OK(cuLibraryUnload(library));
  }
  CU_EXPECT(cuLibraryLoadFromFile(&library, "/nonexistent/gpupool/k.fatbin", nullptr, nullptr, 0, nullptr,
                                  nullptr, 0),
            CUDA_ERROR_FILE_NOT_FOUND);
}

void Occupancy(CUfunction f) {
  int sms = 0, threads_per_sm = 0, warp = 0;
  CU_OK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
  CU_OK(cuDeviceGetAttribute(&threads_per_sm, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, 0));
  CU_OK(cuDeviceGetAttribute(&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0));
  int min_grid = 0, block = 0;
  if (!CU_OK(cuOccupancyMaxPotentialBlockSize(&min_grid, &block, f, SharedFor, 0, 0))) return;
  // The best block size, found again the slow way: every candidate asked on its own.
  int best = 0, best_block = 0, best_blocks = 0;
  for (int size = 1024; size > 0; size -= warp) {
    int blocks = 0;
    CU_OK(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&blocks, f, size, SharedFor(size),
                                                               CU_OCCUPANCY_DEFAULT));
    if (size * blocks > best) {
      best = size * blocks;
      best_block = size;
      best_blocks = blocks;
    }
    if (best == threads_per_sm) break;
  }
  CHECK_TRUE(block == best_block);
  CHECK_TRUE(min_grid == best_blocks * sms);
  int limited = 0;
  CU_OK(cuOccupancyMaxPotentialBlockSizeWithFlags(&min_grid, &limited, f, nullptr, 0, 100,
                                                  CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE));
  CHECK_TRUE(limited > 0 && limited <= 100);
  CU_EXPECT(cuOccupancyMaxPotentialBlockSize(&min_grid, &block, f, nullptr, 0, -1), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuOccupancyMaxPotentialBlockSizeWithFlags(&min_grid, &block, f, nullptr, 0, 0, 0x40),
            CUDA_ERROR_INVALID_VALUE);

  CUlaunchAttribute cluster{};
  cluster.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  cluster.value.clusterDim.x = 2;
  cluster.value.clusterDim.y = 1;
  cluster.value.clusterDim.z = 1;
  CUlaunchConfig config{};
  config.gridDimX = 8;
  config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 128;
  config.blockDimY = config.blockDimZ = 1;
  config.attrs = &cluster;
  config.numAttrs = 1;
  int cluster_size = 0, clusters = 0;
  CU_OK(cuOccupancyMaxPotentialClusterSize(&cluster_size, f, &config));
  CHECK_TRUE(cluster_size >= 8);  // the portable cluster size at least
  CU_OK(cuOccupancyMaxActiveClusters(&clusters, f, &config));
  CHECK_TRUE(clusters > 0);
  CU_EXPECT(cuOccupancyMaxActiveClusters(&clusters, f, nullptr), CUDA_ERROR_INVALID_VALUE);
}

void Streams(CUcontext context) {
  CUstream stream = nullptr;
  if (!CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING))) return;
  CUcontext got = nullptr;
  CUgreenCtx green = reinterpret_cast<CUgreenCtx>(1);
  CU_OK(cuStreamGetCtx(stream, &got));
  CHECK_TRUE(got == context);
  CU_OK(cuStreamGetCtx_v2(nullptr, &got, &green));
  CHECK_TRUE(got == context && green == nullptr);
  CUdevice device = -1;
  CU_OK(cuStreamGetDevice(stream, &device));
  CHECK_TRUE(device == 0);
  CU_EXPECT(cuStreamGetCtx(reinterpret_cast<CUstream>(0x1234), &got), CUDA_ERROR_INVALID_HANDLE);
  CU_OK(cuStreamDestroy(stream));
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// cuCtxDetach destroys a context cuCtxCreate made once it is current; anything else is INVALID_CONTEXT.
void Detach(CUcontext primary) {
  CUcontext created = nullptr;
  if (!CU_OK(cuCtxCreate(&created, nullptr, 0, 0))) return;     // current now
  CU_EXPECT(cuCtxDetach(primary), CUDA_ERROR_INVALID_CONTEXT);  // not made by cuCtxCreate
  CU_OK(cuCtxPushCurrent(primary));
  CU_EXPECT(cuCtxDetach(created), CUDA_ERROR_INVALID_CONTEXT);  // not current
  CU_OK(cuCtxPopCurrent(nullptr));
  CU_OK(cuCtxDetach(created));
  unsigned version = 0;
  CU_EXPECT(cuCtxGetApiVersion(created, &version), CUDA_ERROR_INVALID_CONTEXT);  // destroyed
  CU_OK(cuCtxSetCurrent(primary));
}
#pragma GCC diagnostic pop

// Managed memory only: the contents become undefined (through gpupool they stay as they were, one of
// the values undefined allows); a prefetch after the discard.
void Discard() {
  CUstream stream = nullptr;
  if (!CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING))) return;
  CUdeviceptr managed = 0;
  size_t size = 1 << 16;
  CU_OK(cuMemAllocManaged(&managed, size, CU_MEM_ATTACH_GLOBAL));
  CU_OK(cuMemDiscardBatchAsync(&managed, &size, 1, 0, stream));
  CUmemLocation device = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  size_t first = 0;
  CU_OK(cuMemDiscardAndPrefetchBatchAsync(&managed, &size, 1, &device, &first, 1, 0, stream));
  CU_OK(cuMemPrefetchBatchAsync(&managed, &size, 1, &device, &first, 1, 0, stream));
  CU_EXPECT(cuMemDiscardBatchAsync(&managed, &size, 1, 0, CU_STREAM_LEGACY), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuStreamSynchronize(stream));
  CU_OK(cuMemFree(managed));
  CU_OK(cuStreamDestroy(stream));
}

void Peers(CUcontext context) {
  CU_EXPECT(cuCtxEnablePeerAccess(context, 0), CUDA_ERROR_INVALID_CONTEXT);  // itself
  CU_EXPECT(cuCtxEnablePeerAccess(nullptr, 0), CUDA_ERROR_INVALID_CONTEXT);
  CUcontext other = nullptr;
  if (CU_OK(cuCtxCreate(&other, nullptr, 0, 0))) {  // current now; same device as `context`
    CU_EXPECT(cuCtxEnablePeerAccess(context, 1), CUDA_ERROR_INVALID_VALUE);
    CU_EXPECT(cuCtxEnablePeerAccess(context, 0), CUDA_ERROR_PEER_ACCESS_UNSUPPORTED);
    CU_EXPECT(cuCtxDisablePeerAccess(context), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
    CU_OK(cuCtxDestroy(other));
    CU_OK(cuCtxSetCurrent(context));
  }
  const CUatomicOperation ops[2] = {CU_ATOMIC_OPERATION_INTEGER_ADD, CU_ATOMIC_OPERATION_CAS};
  unsigned caps[2] = {99, 99};
  CU_OK(cuDeviceGetHostAtomicCapabilities(caps, ops, 2, 0));
  CHECK_TRUE(caps[0] == 0 && caps[1] == 0);  // host memory is never mapped for the GPU
  const CUatomicOperation bad = static_cast<CUatomicOperation>(CU_ATOMIC_OPERATION_MAX);
  CU_EXPECT(cuDeviceGetHostAtomicCapabilities(caps, &bad, 1, 0), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuDeviceGetP2PAtomicCapabilities(caps, ops, 2, 0, 0), CUDA_ERROR_INVALID_DEVICE);
  int value = 0;
  CU_EXPECT(cuDeviceGetP2PAttribute(&value, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 0),
            CUDA_ERROR_INVALID_DEVICE);
}

// The bank configuration calls are deprecated in cuda.h, yet the runtime still resolves them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void Config(CUfunction f) {
  CUsharedconfig config = CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE;
  CU_OK(cuCtxGetSharedMemConfig(&config));
  CHECK_TRUE(config == CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE);
  CU_OK(cuCtxSetSharedMemConfig(CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE));
  CU_EXPECT(cuCtxSetSharedMemConfig(static_cast<CUsharedconfig>(7)), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuFuncSetSharedMemConfig(f, CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE));
  CU_EXPECT(
      cuFuncSetSharedMemConfig(reinterpret_cast<CUfunction>(0x1234), CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE),
      CUDA_ERROR_INVALID_HANDLE);
#pragma GCC diagnostic pop
  CU_OK(cuCtxResetPersistingL2Cache());
  CU_OK(cuProfilerStart());
  CU_OK(cuProfilerStop());
  // "Starting with CUDA 12.0, it always returns error code CUDA_ERROR_NOT_SUPPORTED" (cudaProfiler.h).
  CU_EXPECT(cuProfilerInitialize("config", "out.csv", CU_OUT_CSV), CUDA_ERROR_NOT_SUPPORTED);

  CUmemoryPool pool = nullptr;
  if (!CU_OK(cuDeviceGetDefaultMemPool(&pool, 0))) return;
  CUmemLocation location{};
  location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  location.id = 0;
  CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
  CU_OK(cuMemPoolGetAccess(&flags, pool, &location));
  CHECK_TRUE(flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
  CUmemAccessDesc desc{};
  desc.location = location;
  desc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  CU_OK(cuMemPoolSetAccess(pool, &desc, 1));
  desc.flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;  // a pool's own device keeps its access
  CU_EXPECT(cuMemPoolSetAccess(pool, &desc, 1), CUDA_ERROR_INVALID_DEVICE);
  location.type = CU_MEM_LOCATION_TYPE_HOST;
  CU_EXPECT(cuMemPoolGetAccess(&flags, pool, &location), CUDA_ERROR_INVALID_VALUE);
}

// A TMA descriptor for a 64 x 32 float tensor in device memory, encoded by the server's driver, and
// the same tensor moved to another allocation.
void TensorMaps() {
  CUdeviceptr a = 0, b = 0;
  if (!CU_OK(cuMemAlloc(&a, 64 * 32 * 4)) || !CU_OK(cuMemAlloc(&b, 64 * 32 * 4))) return;
  const cuuint64_t dims[2] = {64, 32};
  const cuuint64_t strides[1] = {256};
  const cuuint32_t box[2] = {32, 8};
  const cuuint32_t element_strides[2] = {1, 1};
  auto encode = [&](CUtensorMap* map, CUdeviceptr at, const cuuint32_t* boxes) {
    return cuTensorMapEncodeTiled(map, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 2, reinterpret_cast<void*>(at), dims,
                                  strides, boxes, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                  CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                                  CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  };
  CUtensorMap map{}, at_b{};
  CU_OK(encode(&map, a, box));
  CU_OK(encode(&at_b, b, box));
  CU_OK(cuTensorMapReplaceAddress(&map, reinterpret_cast<void*>(b)));
  CHECK_TRUE(std::memcmp(&map, &at_b, sizeof map) == 0);  // the driver encodes deterministically
  const cuuint32_t too_big[2] = {32, 300};
  CU_EXPECT(encode(&map, a, too_big), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(encode(&map, a + 8, box), CUDA_ERROR_INVALID_VALUE);  // not 16-byte aligned
  alignas(128) unsigned char bytes[sizeof(CUtensorMap) + 64];
  CU_EXPECT(encode(reinterpret_cast<CUtensorMap*>(bytes + 32), a, box),
            CUDA_ERROR_INVALID_VALUE);  // map misaligned
  CU_OK(cuMemFree(a));
  CU_OK(cuMemFree(b));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: driver_coverage KERNELS.fatbin\n");
    return 2;
  }
  CUcontext context = drv::Start();
  CUfunction f = nullptr;
  Modules(argv[1], &f);
  if (f != nullptr) {
    Occupancy(f);
    Config(f);
  }
  Streams(context);
  Peers(context);
  Detach(context);
  Discard();
  TensorMaps();
  return drv::Verdict("driver_coverage");
}
