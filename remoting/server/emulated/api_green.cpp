// Green contexts: SM resources, splits, descriptors, and contexts limited to some SMs (the compute
// shares of docs/security.md). The emulated H200 partitions its 132 SMs in groups of 8, as
// compute capability 9.0 requires; a green context's SM count bounds its cooperative launches.
#include <algorithm>

#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/launch_limits.h"

namespace gpupool::server::emulated {
namespace {

constexpr unsigned kSmGranularity = 8;

CUdevResource SmResource(unsigned sm_count) {
  CUdevResource r{};
  r.type = CU_DEV_RESOURCE_TYPE_SM;
  r.sm.smCount = sm_count;
  r.sm.minSmPartitionSize = kSmGranularity;
  r.sm.smCoscheduledAlignment = kSmGranularity;
  return r;
}

CUresult DeviceGetDevResource(CUdevice dev, CUdevResource* result, CUdevResourceType type) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (result == nullptr || type != CU_DEV_RESOURCE_TYPE_SM) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *result = SmResource(kSmCount);
  return CUDA_SUCCESS;
}

// Splits `input` into groups of at least `min_count` SMs (rounded up to the granularity); with a
// null `result`, only says how many groups fit.
CUresult DevSmResourceSplitByCount(CUdevResource* result, unsigned* groups, const CUdevResource* input,
                                   CUdevResource* remaining, unsigned flags, unsigned min_count) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (groups == nullptr || input == nullptr || input->type != CU_DEV_RESOURCE_TYPE_SM || (flags & ~3u) != 0 ||
      input->sm.smCount > kSmCount) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const unsigned count =
      std::max(kSmGranularity, (min_count + kSmGranularity - 1) / kSmGranularity * kSmGranularity);
  const unsigned fit = input->sm.smCount / count;
  if (fit == 0) return CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION;
  const unsigned made = result == nullptr ? fit : std::min(fit, *groups);
  if (result != nullptr) {
    for (unsigned i = 0; i < made; ++i) result[i] = SmResource(count);
  }
  if (remaining != nullptr) *remaining = SmResource(input->sm.smCount - made * count);
  *groups = made;
  return CUDA_SUCCESS;
}

CUresult DevResourceGenerateDesc(CUdevResourceDesc* desc, CUdevResource* resources, unsigned count) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (desc == nullptr || resources == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  auto d = std::make_unique<ResourceDesc>();
  for (unsigned i = 0; i < count; ++i) {
    if (resources[i].type != CU_DEV_RESOURCE_TYPE_SM) return CUDA_ERROR_INVALID_RESOURCE_TYPE;
    d->sm_count += resources[i].sm.smCount;
  }
  if (d->sm_count == 0 || d->sm_count > kSmCount) return CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION;
  CUdevResourceDesc handle = reinterpret_cast<CUdevResourceDesc>(d.get());
  GetState().resource_descs.emplace(handle, std::move(d));
  *desc = handle;
  return CUDA_SUCCESS;
}

CUresult GreenCtxCreate(CUgreenCtx* out, CUdevResourceDesc desc, CUdevice dev, unsigned flags) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (out == nullptr || (flags & CU_GREEN_CTX_DEFAULT_STREAM) == 0 || (flags & ~1u) != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  State& s = GetState();
  auto d = s.resource_descs.find(desc);
  if (d == s.resource_descs.end()) return CUDA_ERROR_INVALID_VALUE;
  Device& device = s.devices[dev];
  if (device.primary_refcount++ == 0) ResetContext(&device.primary, device.primary_flags);
  auto green = std::make_unique<GreenContext>();
  green->ctx.device = dev;
  green->ctx.sm_count = d->second->sm_count;
  ResetContext(&green->ctx, 0);
  CUgreenCtx handle = reinterpret_cast<CUgreenCtx>(green.get());
  s.green_contexts.emplace(handle, std::move(green));
  *out = handle;
  return CUDA_SUCCESS;
}

CUresult GreenCtxDestroy(CUgreenCtx handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  State& s = GetState();
  auto it = s.green_contexts.find(handle);
  if (it == s.green_contexts.end()) return CUDA_ERROR_INVALID_HANDLE;
  Context* ctx = &it->second->ctx;
  RetireContext(ctx);
  std::erase(ContextStack(), ctx);
  Device& device = s.devices[ctx->device];
  if (device.primary_refcount > 0 && --device.primary_refcount == 0) RetireContext(&device.primary);
  s.green_contexts.erase(it);
  return CUDA_SUCCESS;
}

CUresult CtxFromGreenCtx(CUcontext* out, CUgreenCtx handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto it = GetState().green_contexts.find(handle);
  if (it == GetState().green_contexts.end()) return CUDA_ERROR_INVALID_HANDLE;
  *out = reinterpret_cast<CUcontext>(&it->second->ctx);
  return CUDA_SUCCESS;
}

CUresult GreenCtxStreamCreate(CUstream* out, CUgreenCtx handle, unsigned flags, int priority) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  auto it = GetState().green_contexts.find(handle);
  if (it == GetState().green_contexts.end()) return CUDA_ERROR_INVALID_HANDLE;
  if (flags != CU_STREAM_NON_BLOCKING) return CUDA_ERROR_INVALID_VALUE;  // the driver requires it
  return NewStream(&it->second->ctx, flags, priority, out);
}

}  // namespace

void FillGreenContextApi(DriverApi& api) {
  api.cuDeviceGetDevResource = DeviceGetDevResource;
  api.cuDevSmResourceSplitByCount = DevSmResourceSplitByCount;
  api.cuDevResourceGenerateDesc = DevResourceGenerateDesc;
  api.cuGreenCtxCreate = GreenCtxCreate;
  api.cuGreenCtxDestroy = GreenCtxDestroy;
  api.cuCtxFromGreenCtx = CtxFromGreenCtx;
  api.cuGreenCtxStreamCreate = GreenCtxStreamCreate;
}

}  // namespace gpupool::server::emulated
