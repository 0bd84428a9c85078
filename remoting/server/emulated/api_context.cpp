// Primary contexts, created contexts and the per-thread current-context stack.
#include <algorithm>

#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/device_printf.h"
#include "remoting/server/emulated/timeline.h"

namespace gpupool::server::emulated {
namespace {

constexpr unsigned kCtxFlagsMask = CU_CTX_FLAGS_MASK;
constexpr int kGreatestStreamPriority = -5;  // H200: priorities 0 (least) .. -5 (greatest)

// Default limits of a fresh context (an H200's), indexed by CUlimit.
const std::map<int, std::size_t>& DefaultLimits() {
  static const std::map<int, std::size_t> limits = {
      {CU_LIMIT_STACK_SIZE, 1024},
      {CU_LIMIT_PRINTF_FIFO_SIZE, 1 << 20},
      {CU_LIMIT_MALLOC_HEAP_SIZE, 8 << 20},
      {CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH, 2},
      {CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT, 2048},
      {CU_LIMIT_MAX_L2_FETCH_GRANULARITY, 64},
      {CU_LIMIT_PERSISTING_L2_CACHE_SIZE, 0},
      {CU_LIMIT_SHMEM_SIZE, 232448},
      {CU_LIMIT_CIG_ENABLED, 0},
      {CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED, 0},
  };
  return limits;
}

CUresult PrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  if (LostDevice(dev)) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  Device& d = GetState().devices[dev];
  if (d.primary_refcount++ == 0) ResetContext(&d.primary, d.primary_flags);
  *pctx = reinterpret_cast<CUcontext>(&d.primary);
  return CUDA_SUCCESS;
}

CUresult PrimaryCtxRelease(CUdevice dev) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  Device& d = GetState().devices[dev];
  if (d.primary_refcount == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--d.primary_refcount == 0) RetireContext(&d.primary);
  return CUDA_SUCCESS;
}

CUresult PrimaryCtxSetFlags(CUdevice dev, unsigned flags) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  if ((flags & ~kCtxFlagsMask) != 0 || (flags & CU_CTX_SCHED_MASK) > CU_CTX_SCHED_BLOCKING_SYNC ||
      (flags & CU_CTX_SCHED_MASK) == 3) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  Device& d = GetState().devices[dev];
  d.primary_flags = flags;
  d.primary.flags = flags;
  return CUDA_SUCCESS;
}

CUresult PrimaryCtxGetState(CUdevice dev, unsigned* flags, int* active) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  const Device& d = GetState().devices[dev];
  *flags = d.primary_flags;
  *active = d.primary_refcount > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

CUresult PrimaryCtxReset(CUdevice dev) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  Device& d = GetState().devices[dev];
  if (d.primary_refcount > 0) RetireContext(&d.primary);
  d.primary_refcount = 0;
  d.primary_flags = 0;
  return CUDA_SUCCESS;
}

CUresult CtxCreate(CUcontext* pctx, CUctxCreateParams* params, unsigned flags, CUdevice dev) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (pctx == nullptr || (flags & ~kCtxFlagsMask) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  if (LostDevice(dev)) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  if (params != nullptr && (params->numExecAffinityParams != 0 || params->cigParams != nullptr)) {
    return CUDA_ERROR_NOT_SUPPORTED;  // execution affinity / CIG: not emulated
  }
  auto ctx = std::make_unique<Context>();
  ctx->device = dev;
  ResetContext(ctx.get(), flags);
  Context* raw = ctx.get();
  GetState().created_contexts.emplace(raw, std::move(ctx));
  ContextStack().push_back(raw);
  *pctx = reinterpret_cast<CUcontext>(raw);
  return CUDA_SUCCESS;
}

Context* LookupContext(CUcontext handle) {
  Context* ctx = reinterpret_cast<Context*>(handle);
  return GetState().contexts.count(ctx) ? ctx : nullptr;
}

CUresult CtxDestroy(CUcontext handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  Context* ctx = LookupContext(handle);
  if (ctx == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;  // primary contexts are released, not destroyed
  RetireContext(ctx);
  std::erase(ContextStack(), ctx);
  GetState().created_contexts.erase(ctx);
  return CUDA_SUCCESS;
}

CUresult CtxSetCurrent(CUcontext handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  std::vector<Context*>& stack = ContextStack();
  if (handle == nullptr) {
    if (!stack.empty()) stack.pop_back();
    return CUDA_SUCCESS;
  }
  Context* ctx = LookupContext(handle);
  if (ctx == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (stack.empty()) {
    stack.push_back(ctx);
  } else {
    stack.back() = ctx;
  }
  return CUDA_SUCCESS;
}

CUresult CtxGetCurrent(CUcontext* pctx) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = reinterpret_cast<CUcontext>(CurrentContext());
  return CUDA_SUCCESS;
}

CUresult CtxGetDevice(CUdevice* device) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = CurrentContext();
  if (ctx == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  *device = ctx->device;
  return CUDA_SUCCESS;
}

CUresult CtxPushCurrent(CUcontext handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  Context* ctx = LookupContext(handle);
  if (ctx == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  ContextStack().push_back(ctx);
  return CUDA_SUCCESS;
}

CUresult CtxPopCurrent(CUcontext* pctx) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  std::vector<Context*>& stack = ContextStack();
  if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx != nullptr) *pctx = reinterpret_cast<CUcontext>(stack.back());
  stack.pop_back();
  return CUDA_SUCCESS;
}

CUresult CtxSynchronize() {
  std::uint64_t done = 0;
  {
    GPUPOOL_CURRENT_CONTEXT(ctx);
    done = ContextDoneNs(ctx);
    FlushPrintf(ctx);
  }
  SleepUntilNs(done);  // the context's simulated work (timeline.h); outside the lock
  return CUDA_SUCCESS;
}

CUresult CtxGetLimit(size_t* value, CUlimit limit) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto it = ctx->limits.find(limit);
  if (it == ctx->limits.end()) return CUDA_ERROR_UNSUPPORTED_LIMIT;
  *value = it->second;
  return CUDA_SUCCESS;
}

CUresult CtxSetLimit(CUlimit limit, size_t value) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  auto it = ctx->limits.find(limit);
  if (it == ctx->limits.end() || limit == CU_LIMIT_SHMEM_SIZE || limit == CU_LIMIT_CIG_ENABLED) {
    return CUDA_ERROR_UNSUPPORTED_LIMIT;
  }
  if (limit == CU_LIMIT_MAX_L2_FETCH_GRANULARITY && value != 0 && value != 32 && value != 64 &&
      value != 128) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  // The FIFO is host memory here (device_printf.h): as large as a GPU's would be, not unbounded.
  if (limit == CU_LIMIT_PRINTF_FIFO_SIZE && value > kMaxPrintfFifo) return CUDA_ERROR_OUT_OF_MEMORY;
  it->second = value;
  return CUDA_SUCCESS;
}

CUresult CtxGetCacheConfig(CUfunc_cache* config) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *config = ctx->cache_config;
  return CUDA_SUCCESS;
}

CUresult CtxSetCacheConfig(CUfunc_cache config) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL)
    return CUDA_ERROR_INVALID_VALUE;
  ctx->cache_config = config;
  return CUDA_SUCCESS;
}

CUresult CtxGetStreamPriorityRange(int* least, int* greatest) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (least != nullptr) *least = 0;
  if (greatest != nullptr) *greatest = kGreatestStreamPriority;
  return CUDA_SUCCESS;
}

CUresult CtxGetFlags(unsigned* flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = ctx->flags;
  return CUDA_SUCCESS;
}

CUresult CtxSetFlags(unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if ((flags & ~kCtxFlagsMask) != 0) return CUDA_ERROR_INVALID_VALUE;
  ctx->flags = flags;
  return CUDA_SUCCESS;
}

Context* ContextOrCurrent(CUcontext handle) {
  return handle == nullptr ? CurrentContext() : LookupContext(handle);
}

CUresult CtxGetApiVersion(CUcontext handle, unsigned* version) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ContextOrCurrent(handle) == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020;  // the context API generation every context created since CUDA 3.2 reports
  return CUDA_SUCCESS;
}

CUresult CtxGetId(CUcontext handle, unsigned long long* id) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = ContextOrCurrent(handle);
  if (ctx == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  *id = ctx->id;
  return CUDA_SUCCESS;
}

CUresult ProfilerStart() {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  return CUDA_SUCCESS;  // no profiler attached: the driver answers success and collects nothing
}

CUresult ProfilerStop() {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  return CUDA_SUCCESS;
}

// Peer access is bookkeeping here (kernels do not run): the errors are the driver's.
CUresult CtxEnablePeerAccess(CUcontext handle, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  const Context* peer = LookupContext(handle);
  if (peer == nullptr || peer == ctx) return CUDA_ERROR_INVALID_CONTEXT;
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (peer->device == ctx->device) return CUDA_ERROR_PEER_ACCESS_UNSUPPORTED;  // not its own peer
  if (!ctx->peers.insert(peer).second) return CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED;
  return CUDA_SUCCESS;
}

CUresult CtxDisablePeerAccess(CUcontext handle) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  const Context* peer = LookupContext(handle);
  if (peer == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  return ctx->peers.erase(peer) != 0 ? CUDA_SUCCESS : CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
}

CUresult CtxResetPersistingL2Cache() {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  return CUDA_SUCCESS;
}

}  // namespace

void ResetContext(Context* ctx, unsigned flags) {
  State& s = GetState();
  ctx->flags = flags;
  ctx->id = s.next_id++;
  ctx->limits = DefaultLimits();
  ctx->cache_config = CU_FUNC_CACHE_PREFER_NONE;
  ctx->printf_fifo.clear();
  ctx->peers.clear();
  s.contexts.insert(ctx);
}

// Ends a context's life: its streams, modules and memory go with it (as in CUDA).
void RetireContext(Context* ctx) {
  State& s = GetState();
  FlushPrintf(ctx);  // destroying a context flushes its device printf, as in CUDA
  s.contexts.erase(ctx);
  for (Context* other : s.contexts) other->peers.erase(ctx);
  std::erase_if(s.streams, [&](const auto& entry) { return entry.second->ctx == ctx; });
  std::vector<Module*> doomed;
  for (const auto& [handle, module] : s.modules) {
    if (module->ctx == ctx && !module->owned_by_library) doomed.push_back(module.get());
  }
  for (Module* m : doomed) UnloadModule(m);
  std::erase_if(s.textures, [&](const auto& entry) { return entry.second.ctx == ctx; });
  std::erase_if(s.surfaces, [&](const auto& entry) { return entry.second.ctx == ctx; });
  std::erase_if(s.mipmaps, [&](const auto& entry) { return entry.second->ctx == ctx; });  // levels below
  std::vector<CUarray> arrays;
  for (const auto& [handle, array] : s.arrays) {
    if (array->ctx == ctx) arrays.push_back(handle);
  }
  for (CUarray a : arrays) DestroyArray(a);
  for (auto it = s.allocation_owner.begin(); it != s.allocation_owner.end();) {
    if (it->second != ctx) {
      ++it;
      continue;
    }
    (void)MemoryFor(it->first)->Free(it->first);
    it = s.allocation_owner.erase(it);
  }
}

void FillContextApi(DriverApi& api) {
  api.cuDevicePrimaryCtxRetain = PrimaryCtxRetain;
  api.cuDevicePrimaryCtxRelease_v2 = PrimaryCtxRelease;
  api.cuDevicePrimaryCtxSetFlags_v2 = PrimaryCtxSetFlags;
  api.cuDevicePrimaryCtxGetState = PrimaryCtxGetState;
  api.cuDevicePrimaryCtxReset_v2 = PrimaryCtxReset;
  api.cuCtxCreate_v4 = CtxCreate;
  api.cuCtxDestroy_v2 = CtxDestroy;
  api.cuCtxSetCurrent = CtxSetCurrent;
  api.cuCtxGetCurrent = CtxGetCurrent;
  api.cuCtxGetDevice = CtxGetDevice;
  api.cuCtxEnablePeerAccess = CtxEnablePeerAccess;
  api.cuCtxDisablePeerAccess = CtxDisablePeerAccess;
  api.cuCtxPushCurrent_v2 = CtxPushCurrent;
  api.cuCtxPopCurrent_v2 = CtxPopCurrent;
  api.cuCtxSynchronize = CtxSynchronize;
  api.cuCtxGetLimit = CtxGetLimit;
  api.cuCtxSetLimit = CtxSetLimit;
  api.cuCtxGetCacheConfig = CtxGetCacheConfig;
  api.cuCtxSetCacheConfig = CtxSetCacheConfig;
  api.cuCtxGetStreamPriorityRange = CtxGetStreamPriorityRange;
  api.cuCtxGetFlags = CtxGetFlags;
  api.cuCtxSetFlags = CtxSetFlags;
  api.cuCtxGetApiVersion = CtxGetApiVersion;
  api.cuCtxGetId = CtxGetId;
  api.cuCtxResetPersistingL2Cache = CtxResetPersistingL2Cache;
  api.cuProfilerStart = ProfilerStart;
  api.cuProfilerStop = ProfilerStop;
}

}  // namespace gpupool::server::emulated
