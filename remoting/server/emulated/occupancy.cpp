// Occupancy: resident blocks per SM from threads, registers and shared memory, with an H200's
// allocation rules (registers per warp in units of 256, 1 KiB of shared memory reserved per block).
#include <algorithm>

#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/launch_limits.h"

namespace gpupool::server::emulated {
namespace {

constexpr int kWarp = 32;
constexpr int kRegisterUnit = 256;
constexpr int kReservedSharedPerBlock = 1024;

int RegistersPerWarp(const Function& f) {
  return (Registers(f) * kWarp + kRegisterUnit - 1) / kRegisterUnit * kRegisterUnit;
}

// The cluster size a launch configuration asks for (1 when it sets none).
int ClusterSize(const CUlaunchConfig* config) {
  for (unsigned i = 0; config != nullptr && i < config->numAttrs; ++i) {
    if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
      const auto& d = config->attrs[i].value.clusterDim;
      return static_cast<int>(d.x * d.y * d.z);
    }
  }
  return 1;
}

#define GPUPOOL_OCCUPANCY_FUNCTION(f, handle, out)       \
  GPUPOOL_EMULATED_LOCK();                               \
  GPUPOOL_EMULATED_REQUIRE_INIT();                       \
  if ((out) == nullptr) return CUDA_ERROR_INVALID_VALUE; \
  Function* f = LookupFunction(handle);                  \
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE

CUresult MaxActiveBlocksWithFlags(int* blocks, CUfunction handle, int block_size, size_t dynamic_shared,
                                  unsigned flags) {
  GPUPOOL_OCCUPANCY_FUNCTION(f, handle, blocks);
  if ((flags & ~CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE) != 0 || block_size <= 0)
    return CUDA_ERROR_INVALID_VALUE;
  *blocks = ActiveBlocksPerSm(*f, block_size, dynamic_shared);
  return CUDA_SUCCESS;
}

CUresult MaxActiveBlocks(int* blocks, CUfunction handle, int block_size, size_t dynamic_shared) {
  return MaxActiveBlocksWithFlags(blocks, handle, block_size, dynamic_shared, 0);
}

CUresult AvailableDynamicShared(size_t* bytes, CUfunction handle, int blocks, int block_size) {
  GPUPOOL_OCCUPANCY_FUNCTION(f, handle, bytes);
  if (blocks <= 0 || block_size <= 0 || block_size > MaxThreadsForFunction(*f))
    return CUDA_ERROR_INVALID_VALUE;
  const int per_block =
      kSharedPerSm / blocks - kReservedSharedPerBlock - static_cast<int>(f->info->shared_bytes);
  *bytes = static_cast<size_t>(std::clamp(per_block, 0, MaxDynamicShared(*f)));
  return CUDA_SUCCESS;
}

CUresult MaxPotentialClusterSize(int* size, CUfunction handle, const CUlaunchConfig* config) {
  GPUPOOL_OCCUPANCY_FUNCTION(f, handle, size);
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *size = f->non_portable_cluster ? kMaxClusterSize : kPortableClusterSize;
  return CUDA_SUCCESS;
}

CUresult MaxActiveClusters(int* clusters, CUfunction handle, const CUlaunchConfig* config) {
  GPUPOOL_OCCUPANCY_FUNCTION(f, handle, clusters);
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const int cluster = ClusterSize(config);
  const int threads = static_cast<int>(config->blockDimX * config->blockDimY * config->blockDimZ);
  if (cluster <= 0 || cluster > kMaxClusterSize) return CUDA_ERROR_INVALID_CLUSTER_SIZE;
  *clusters = ActiveBlocksPerSm(*f, threads, config->sharedMemBytes) * kSmCount / cluster;
  return CUDA_SUCCESS;
}

}  // namespace

int MaxThreadsForFunction(const Function& f) {
  const int warps_by_registers = kRegistersPerSm / RegistersPerWarp(f);
  return std::min({static_cast<int>(f.info->max_threads), kMaxThreadsPerBlock, warps_by_registers * kWarp});
}

int ActiveBlocksPerSm(const Function& f, int block_threads, std::size_t dynamic_shared) {
  if (block_threads <= 0 || block_threads > MaxThreadsForFunction(f)) return 0;
  if (dynamic_shared > static_cast<std::size_t>(MaxDynamicShared(f))) return 0;
  const int warps = (block_threads + kWarp - 1) / kWarp;
  const int by_threads = kMaxThreadsPerSm / (warps * kWarp);
  const int by_registers = kRegistersPerSm / RegistersPerWarp(f) / warps;
  const int shared = static_cast<int>(f.info->shared_bytes + dynamic_shared) + kReservedSharedPerBlock;
  const int by_shared = kSharedPerSm / shared;
  return std::min({by_threads, by_registers, by_shared, kMaxBlocksPerSm});
}

void FillOccupancyApi(DriverApi& api) {
  api.cuOccupancyMaxActiveBlocksPerMultiprocessor = MaxActiveBlocks;
  api.cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags = MaxActiveBlocksWithFlags;
  api.cuOccupancyAvailableDynamicSMemPerBlock = AvailableDynamicShared;
  api.cuOccupancyMaxPotentialClusterSize = MaxPotentialClusterSize;
  api.cuOccupancyMaxActiveClusters = MaxActiveClusters;
}

}  // namespace gpupool::server::emulated
