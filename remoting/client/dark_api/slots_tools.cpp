// TOOLS_TLS, TOOLS_RUNTIME_CALLBACK_HOOKS, CONTEXT_CHECKS, CONTEXT_IDENTITY, MODULE_WALK and
// BLASLT_QUERY: what the runtime and the libraries ask about tools (profilers), contexts, streams and
// modules. gpupool attaches no tools: the hook buffers stay zero, which the runtime reads as "no
// callbacks".
#include <cstdint>
#include <vector>

#include "common/log.h"
#include "remoting/client/dark_api/slot_support.h"
#include "remoting/client/dark_api/slots.h"

namespace gpupool::dark_api::slots {
namespace {

// The runtime refuses to start (cudaErrorInsufficientDriver) when these sizes are below 1024 and
// 14; it never wrote into the buffers in our traces. What the sizes count is unknown, so each
// buffer holds that many 8-byte entries.
constexpr std::size_t kHooksSize = 1024;
constexpr std::size_t kHooks2Size = 14;
alignas(16) std::uint64_t g_hooks[kHooksSize] = {};
alignas(16) std::uint64_t g_hooks2[kHooks2Size] = {};

}  // namespace

void ToolsRuntimeCallbackHooks_get_runtime_hooks(void** buffer, std::size_t* size) {
  if (buffer != nullptr) *buffer = g_hooks;
  if (size != nullptr) *size = kHooksSize;
}

void ToolsRuntimeCallbackHooks_get_runtime_hooks2(void** buffer, std::size_t* size) {
  if (buffer != nullptr) *buffer = g_hooks2;
  if (size != nullptr) *size = kHooks2Size;
}

// cublasLt 13.0 calls this with one out-pointer before every matmul heuristic query and hands the
// result to CONTEXT_IDENTITY slot 4; with an error here its matmuls fail. Answering the current
// context makes them work (docs/dark-api.md).
CUresult ToolsTls_get_tools_context(CUcontext* context) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return api.host().CurrentContext(context);
}

// cublasLt and cuFFT key per-context caches with this; cuFFT compares it for a stream's context
// with the one it cached in a plan. cuCtxGetId's answer has exactly that property.
CUresult ContextIdentity_context_get_unique_id(CUcontext context, unsigned long long* id) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = ResolveContext(api, context, &context);
  if (result != CUDA_SUCCESS) return result;
  return api.host().ContextId(context, id);
}

// cuBLAS 13.1 turns the stream of each call into a handle here (per_thread is set when the stream is
// cudaStreamPerThread, so a null stream with it means the per-thread one), then asks slot 39 for a
// number it keys its per-stream workspaces with, reusing one only when that number matches. It never
// dereferences the handle, so the stream itself serves, checked here so a dead one fails early.
CUresult ContextIdentity_stream_get_handle(CUcontext context, CUstream stream, CUstream* handle,
                                           unsigned per_thread) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = ResolveContext(api, context, &context);
  if (result != CUDA_SUCCESS) return result;
  if (stream == nullptr) stream = per_thread != 0 ? CU_STREAM_PER_THREAD : CU_STREAM_LEGACY;
  unsigned long long ignored = 0;
  result = api.host().StreamIdentity(context, stream, &ignored);
  if (result != CUDA_SUCCESS) return result;
  *handle = stream;
  return CUDA_SUCCESS;
}

// Two streams sharing a number would share a workspace while both run: it must name the stream.
CUresult ContextIdentity_stream_get_identity(CUcontext context, CUstream handle, unsigned long long* id) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = ResolveContext(api, context, &context);
  if (result != CUDA_SUCCESS) return result;
  return api.host().StreamIdentity(context, handle != nullptr ? handle : CU_STREAM_LEGACY, id);
}

// cuFFT loads each of its kernels as a module of its own and, with no name to look it up by, asks
// here for the module's function: the callback stores the CUfunction it is given, which cuFFT then
// uses with cuFuncGetAttribute, the occupancy calls and cuLaunchKernel, never reading inside it. It
// accepts only 1 as success. The real driver's order for a module of several functions is not known
// (cuFFT's hold one); ours is cuModuleEnumerateFunctions'. `context` is the current one in every
// call seen, and a module belongs to its context anyway.
int ModuleWalk_walk_functions(CUcontext, CUmodule module, ModuleFunctionCallback callback, void* user) {
  DarkApi* api = DarkApi::Active();
  if (api == nullptr || callback == nullptr) return 0;
  std::vector<CUfunction> functions;
  const CUresult result = api->host().ModuleFunctions(module, &functions);
  if (result != CUDA_SUCCESS) {
    GPUPOOL_LOG(kDebug) << "dark_api: MODULE_WALK.walk_functions: the module's functions: error " << result;
    return 0;
  }
  for (CUfunction function : functions) callback(user, function);
  return 1;
}

// cublasLt zeroes both outputs, calls this, and on success decodes the bytes at *data (pairs of
// characters, read as hex). What the real driver hands out is not known; on an error cublasLt skips
// the decoding and its half and bfloat16 matmuls run (its heuristic still returns algorithms).
CUresult BlasLtQuery_get_blob(const char** data, std::uint64_t* size) {
  if (data != nullptr) *data = nullptr;
  if (size != nullptr) *size = 0;
  GPUPOOL_LOG(kDebug) << "dark_api: BLASLT_QUERY.get_blob: nothing to hand out (CUDA_ERROR_NOT_SUPPORTED)";
  return CUDA_ERROR_NOT_SUPPORTED;
}

// Whether `context` wraps another one; gpupool's contexts never do.
CUresult ContextChecks_context_check(CUcontext context, unsigned* is_wrapped, CUcontext* unwrapped) {
  if (is_wrapped != nullptr) *is_wrapped = 0;
  if (unwrapped != nullptr) *unwrapped = context;
  return CUDA_SUCCESS;
}

// Called once at runtime start-up; 0 is what the runtime proceeds with.
unsigned ContextChecks_check_fn3() {
  return 0;
}

}  // namespace gpupool::dark_api::slots
