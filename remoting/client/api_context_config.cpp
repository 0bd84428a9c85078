// Context limits, cache and shared memory configuration, stream priorities, the persisting L2 cache
// and profiling ranges: forwarded to the server's context (shared memory banks are answered here).
#include <cudaProfiler.h>

#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"

using namespace gpupool::client;

GPUPOOL_API CUresult cuCtxGetLimit(size_t* value, CUlimit limit) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::CtxGetLimit>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::CtxGetLimit>(context, {static_cast<std::int32_t>(limit)}, &reply));
  *value = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  return Rpc<Op::CtxSetLimit>(context, {static_cast<std::int32_t>(limit), value});
}

GPUPOOL_API CUresult cuCtxGetCacheConfig(CUfunc_cache* config) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::CtxGetCacheConfig>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::CtxGetCacheConfig>(context, {}, &reply));
  *config = static_cast<CUfunc_cache>(std::get<0>(reply));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxSetCacheConfig(CUfunc_cache config) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  return Rpc<Op::CtxSetCacheConfig>(context, {static_cast<std::int32_t>(config)});
}

GPUPOOL_API CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::CtxGetStreamPriorityRange>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::CtxGetStreamPriorityRange>(context, {}, &reply));
  if (least != nullptr) *least = std::get<0>(reply);
  if (greatest != nullptr) *greatest = std::get<1>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxResetPersistingL2Cache() {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  return Rpc<Op::CtxResetPersistingL2Cache>(context, {});
}

// Shared memory bank size (deprecated): every device CUDA 13 supports (compute capability >= 7.5)
// has fixed four-byte banks, so the driver reports that size and accepts, without effect, any valid
// setting. The same holds here without a round trip.
namespace {

bool ValidSharedConfig(CUsharedconfig config) {
  return static_cast<unsigned>(config) <= CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE;
}

}  // namespace

GPUPOOL_API CUresult cuCtxGetSharedMemConfig(CUsharedconfig* config) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  *config = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxSetSharedMemConfig(CUsharedconfig config) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  return ValidSharedConfig(config) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

GPUPOOL_API CUresult cuFuncSetSharedMemConfig(CUfunction handle, CUsharedconfig config) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ResolveFunction(handle, &context, &id));
  return ValidSharedConfig(config) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// Profiling ranges: forwarded, so a profiler attached to the server's worker sees them.
GPUPOOL_API CUresult cuProfilerStart() {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  return Rpc<Op::ProfilerStart>(context, {});
}

GPUPOOL_API CUresult cuProfilerStop() {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  return Rpc<Op::ProfilerStop>(context, {});
}

// Deprecated: "Starting with CUDA 12.0, it always returns error code CUDA_ERROR_NOT_SUPPORTED"
// (cudaProfiler.h). That is the driver's own answer, so it is not logged as one of gpupool's gaps.
GPUPOOL_API CUresult cuProfilerInitialize(const char*, const char*, CUoutput_mode) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
