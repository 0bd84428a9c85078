// Occupancy queries, answered by the server's driver for the function's real register and shared
// memory use. cuOccupancyMaxPotentialBlockSize runs the program's block-size-to-shared-memory
// callback here, in the program's process, for every candidate block size, then asks the server for
// all candidates in one round trip (OccupancyMaxActiveBlocksList) and picks the best as the driver
// does: the most resident threads per SM, the larger block on a tie, stopping at a full SM.
#include <algorithm>
#include <vector>

#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"
#include "remoting/client/launch_attributes.h"

using namespace gpupool::client;

namespace {

constexpr unsigned kOccupancyFlags = CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE;

CUresult MaxActiveBlocks(int* blocks, CUfunction handle, int block_size, size_t shared_bytes,
                         unsigned flags) {
  if (blocks == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ResolveFunction(handle, &context, &id));
  protocol::Call<Op::OccupancyMaxActiveBlocksPerMultiprocessor>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::OccupancyMaxActiveBlocksPerMultiprocessor>(
      context, {id, block_size, shared_bytes, flags}, &reply));
  *blocks = std::get<0>(reply);
  return CUDA_SUCCESS;
}

CUresult MaxPotentialBlockSize(int* min_grid, int* block_size, CUfunction handle,
                               CUoccupancyB2DSize to_shared, size_t shared_bytes, int limit, unsigned flags) {
  if (min_grid == nullptr || block_size == nullptr || limit < 0 || (flags & ~kOccupancyFlags) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ResolveFunction(handle, &context, &id));
  const Device* device = State::Get().device(State::Current()->device);
  if (device == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  auto attribute = [device](CUdevice_attribute a) { return device->attributes.at(a); };
  protocol::Call<Op::FuncGetAttribute>::Reply function_max;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::FuncGetAttribute>(
      context, {static_cast<std::int32_t>(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK), id}, &function_max));
  const int granularity = std::max(1, attribute(CU_DEVICE_ATTRIBUTE_WARP_SIZE));
  int max_block = std::min(attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK), std::get<0>(function_max));
  if (limit > 0) max_block = std::min(max_block, limit);
  if (max_block <= 0) return CUDA_ERROR_INVALID_VALUE;
  // Candidates from the largest down, in warp steps (the first one may be a partial warp).
  std::vector<std::int32_t> sizes;
  std::vector<std::uint64_t> shared;
  for (int aligned = (max_block + granularity - 1) / granularity * granularity; aligned > 0;
       aligned -= granularity) {
    const int size = std::min(max_block, aligned);
    sizes.push_back(size);
    shared.push_back(to_shared != nullptr ? to_shared(size) : shared_bytes);
  }
  protocol::Call<Op::OccupancyMaxActiveBlocksList>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::OccupancyMaxActiveBlocksList>(context, {id, flags, sizes, shared}, &reply));
  const std::vector<std::int32_t>& blocks = std::get<0>(reply);
  if (blocks.size() != sizes.size()) return CUDA_ERROR_INVALID_VALUE;
  const int full = attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
  int best_threads = 0, best_size = 0, best_blocks = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const int threads = sizes[i] * blocks[i];
    if (threads > best_threads) {
      best_threads = threads;
      best_size = sizes[i];
      best_blocks = blocks[i];
    }
    if (best_threads == full) break;
  }
  *min_grid = best_blocks * attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  *block_size = best_size;
  return CUDA_SUCCESS;
}

// The cluster queries: the launch configuration travels as LaunchKernelEx sends it.
template <Op op>
CUresult ClusterQuery(int* out, CUfunction handle, const CUlaunchConfig* config) {
  if (out == nullptr || config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0, stream = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ResolveFunction(handle, &context, &id));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(config->hStream, false, &stream));
  std::string attrs;
  GPUPOOL_CU_RETURN_IF_ERROR(EncodeLaunchAttributes(config, &attrs));
  const CUlaunchConfig& c = *config;
  typename protocol::Call<op>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<op>(context,
                                     {id, c.gridDimX, c.gridDimY, c.gridDimZ, c.blockDimX, c.blockDimY,
                                      c.blockDimZ, c.sharedMemBytes, stream, attrs},
                                     &reply));
  *out = std::get<0>(reply);
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction handle,
                                                                 int block_size, size_t shared_bytes) {
  return MaxActiveBlocks(blocks, handle, block_size, shared_bytes, 0);
}

GPUPOOL_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks, CUfunction handle,
                                                                          int block_size, size_t shared_bytes,
                                                                          unsigned int flags) {
  return MaxActiveBlocks(blocks, handle, block_size, shared_bytes, flags);
}

GPUPOOL_API CUresult cuOccupancyMaxPotentialBlockSize(int* min_grid, int* block_size, CUfunction handle,
                                                      CUoccupancyB2DSize to_shared, size_t shared_bytes,
                                                      int limit) {
  return MaxPotentialBlockSize(min_grid, block_size, handle, to_shared, shared_bytes, limit, 0);
}

GPUPOOL_API CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int* min_grid, int* block_size,
                                                               CUfunction handle,
                                                               CUoccupancyB2DSize to_shared,
                                                               size_t shared_bytes, int limit,
                                                               unsigned int flags) {
  return MaxPotentialBlockSize(min_grid, block_size, handle, to_shared, shared_bytes, limit, flags);
}

GPUPOOL_API CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t* bytes, CUfunction handle, int blocks,
                                                             int block_size) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ResolveFunction(handle, &context, &id));
  protocol::Call<Op::OccupancyAvailableDynamicSMemPerBlock>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::OccupancyAvailableDynamicSMemPerBlock>(context, {id, blocks, block_size}, &reply));
  *bytes = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuOccupancyMaxPotentialClusterSize(int* size, CUfunction handle,
                                                        const CUlaunchConfig* config) {
  return ClusterQuery<Op::OccupancyMaxPotentialClusterSize>(size, handle, config);
}

GPUPOOL_API CUresult cuOccupancyMaxActiveClusters(int* clusters, CUfunction handle,
                                                  const CUlaunchConfig* config) {
  return ClusterQuery<Op::OccupancyMaxActiveClusters>(clusters, handle, config);
}
