// Handlers: primary contexts and contexts. Context handles become session ids; the worker thread's
// current context is whatever the client last made current (CtxSetCurrent).
#include "remoting/server/compute_share.h"
#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

// Context id 0 means "the current context" where the driver accepts NULL.
CUresult ContextOrCurrent(const Session& s, std::uint64_t id, CUcontext* out) {
  if (id == 0) {
    *out = nullptr;
    return CUDA_SUCCESS;
  }
  return s.Context(id, out);
}

}  // namespace

GPUPOOL_HANDLER(DevicePrimaryCtxRetain) {
  CUcontext ctx = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuDevicePrimaryCtxRetain, &ctx, std::get<0>(in));
  if (r == CUDA_SUCCESS) std::get<0>(*out) = s.contexts.Add(ctx);
  return r;
}

GPUPOOL_HANDLER(DevicePrimaryCtxRelease) {
  s.BeforeContextDestroy();
  return GPUPOOL_DRIVER(s, cuDevicePrimaryCtxRelease_v2, std::get<0>(in));
}

GPUPOOL_HANDLER(DevicePrimaryCtxSetFlags) {
  return GPUPOOL_DRIVER(s, cuDevicePrimaryCtxSetFlags_v2, std::get<0>(in), std::get<1>(in));
}

GPUPOOL_HANDLER(DevicePrimaryCtxGetState) {
  unsigned flags = 0;
  int active = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuDevicePrimaryCtxGetState, std::get<0>(in), &flags, &active);
  *out = {flags, active};
  return r;
}

GPUPOOL_HANDLER(DevicePrimaryCtxReset) {
  s.BeforeContextDestroy();
  return GPUPOOL_DRIVER(s, cuDevicePrimaryCtxReset_v2, std::get<0>(in));
}

GPUPOOL_HANDLER(CtxCreate) {
  const auto& [flags, dev] = in;
  CUcontext ctx = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuCtxCreate_v4, &ctx, nullptr, flags, dev);
  if (r == CUDA_SUCCESS) std::get<0>(*out) = s.contexts.Add(ctx);
  return r;
}

GPUPOOL_HANDLER(CtxDestroy) {
  CUcontext ctx = nullptr;
  if (CUresult r = s.Context(std::get<0>(in), &ctx); r != CUDA_SUCCESS) return r;
  s.BeforeContextDestroy();
  CUresult r = GPUPOOL_DRIVER(s, cuCtxDestroy_v2, ctx);
  if (r == CUDA_SUCCESS) s.contexts.Remove(std::get<0>(in));
  return r;
}

GPUPOOL_HANDLER(CtxSetCurrent) {
  CUcontext ctx = nullptr;
  if (CUresult r = ContextOrCurrent(s, std::get<0>(in), &ctx); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuCtxSetCurrent, ctx);
}

// The peer is one of the session's contexts; its memory is the session's own, on another device.
GPUPOOL_HANDLER(CtxEnablePeerAccess) {
  const auto& [peer_id, flags] = in;
  CUcontext peer = nullptr;
  if (CUresult r = s.Context(peer_id, &peer); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuCtxEnablePeerAccess, peer, flags);
}

GPUPOOL_HANDLER(CtxDisablePeerAccess) {
  CUcontext peer = nullptr;
  if (CUresult r = s.Context(std::get<0>(in), &peer); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuCtxDisablePeerAccess, peer);
}

GPUPOOL_HANDLER(CtxSynchronize) {
  CUresult r = GPUPOOL_DRIVER(s, cuCtxSynchronize);
  s.CollectKernels();
  return r;
}

GPUPOOL_HANDLER(CtxGetLimit) {
  std::size_t value = 0;
  CUlimit limit{};
  if (CUresult r = ClientEnum(std::get<0>(in), 0, CU_LIMIT_MAX, &limit); r != CUDA_SUCCESS) return r;
  CUresult r = GPUPOOL_DRIVER(s, cuCtxGetLimit, &value, limit);
  std::get<0>(*out) = value;
  return r;
}

GPUPOOL_HANDLER(CtxSetLimit) {
  CUlimit limit{};
  if (CUresult r = ClientEnum(std::get<0>(in), 0, CU_LIMIT_MAX, &limit); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuCtxSetLimit, limit, std::get<1>(in));
}

GPUPOOL_HANDLER(CtxGetCacheConfig) {
  CUfunc_cache config = CU_FUNC_CACHE_PREFER_NONE;
  CUresult r = GPUPOOL_DRIVER(s, cuCtxGetCacheConfig, &config);
  std::get<0>(*out) = config;
  return r;
}

GPUPOOL_HANDLER(CtxSetCacheConfig) {
  CUfunc_cache config{};
  if (CUresult r = ClientEnum(std::get<0>(in), 0, CU_FUNC_CACHE_PREFER_EQUAL + 1, &config); r != CUDA_SUCCESS)
    return r;
  return GPUPOOL_DRIVER(s, cuCtxSetCacheConfig, config);
}

GPUPOOL_HANDLER(CtxGetStreamPriorityRange) {
  auto& [least, greatest] = *out;
  return GPUPOOL_DRIVER(s, cuCtxGetStreamPriorityRange, &least, &greatest);
}

GPUPOOL_HANDLER(CtxGetFlags) {
  unsigned flags = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuCtxGetFlags, &flags);
  std::get<0>(*out) = flags;
  return r;
}

GPUPOOL_HANDLER(CtxSetFlags) {
  return GPUPOOL_DRIVER(s, cuCtxSetFlags, std::get<0>(in));
}

GPUPOOL_HANDLER(CtxGetApiVersion) {
  CUcontext ctx = nullptr;
  if (CUresult r = ContextOrCurrent(s, std::get<0>(in), &ctx); r != CUDA_SUCCESS) return r;
  unsigned version = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuCtxGetApiVersion, ctx, &version);
  std::get<0>(*out) = version;
  return r;
}

GPUPOOL_HANDLER(CtxGetId) {
  CUcontext ctx = nullptr;
  if (CUresult r = ContextOrCurrent(s, std::get<0>(in), &ctx); r != CUDA_SUCCESS) return r;
  unsigned long long id = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuCtxGetId, ctx, &id);
  std::get<0>(*out) = id;
  return r;
}

GPUPOOL_HANDLER(CtxResetPersistingL2Cache) {
  return GPUPOOL_DRIVER(s, cuCtxResetPersistingL2Cache);
}

GPUPOOL_HANDLER(ProfilerStart) {
  return GPUPOOL_DRIVER(s, cuProfilerStart);
}

GPUPOOL_HANDLER(ProfilerStop) {
  return GPUPOOL_DRIVER(s, cuProfilerStop);
}

}  // namespace gpupool::server
