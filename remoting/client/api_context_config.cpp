// Context limits, cache configuration and stream priorities: forwarded to the server's context.
#include "remoting/client/api_support.h"

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
