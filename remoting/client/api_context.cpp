// Primary contexts and contexts. Contexts are client objects (state.h) that carry the server's
// context id; the per-thread stack lives here and the server is told the current context lazily,
// with the next call that needs it (Session::Send).
#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/client/client_dark_api_host.h"
#include "remoting/client/pools.h"
#include "remoting/client/server_events.h"

using namespace gpupool::client;

namespace {

// A primary context ends (reset, or its last release): its memory and events are gone on the
// server, so the client's pools and idle events of it go too.
// A context's managed memory goes with it, as in CUDA: its pages are unmapped here too.
void ForgetManagedMemory(std::uint64_t id) {
  for (CUdeviceptr freed : ManagedMemory::Get().ForgetContext(id)) State::Get().RemoveAllocation(freed);
}

void ForgetContext(std::uint64_t id, CUdevice ordinal) {
  if (id != 0) {
    ForgetServerEvents(id);
    ForgetManagedMemory(id);
  }
  Pools::Get().ForgetDevice(ordinal);
}

// Removes `context` from the calling thread's stack (a destroyed context is current nowhere).
void ForgetInStack(Context* context) {
  auto& stack = State::ContextStack();
  std::erase(stack, context);
}

// A context that asks for blocking synchronisation (cudaDeviceScheduleBlockingSync) asks CUDA not to
// spin while it waits; the client then stops polling for replies before it sleeps, too.
void FollowSchedulingFlags(unsigned int flags) {
  Session* session = State::Get().session();
  if ((flags & CU_CTX_SCHED_MASK) == CU_CTX_SCHED_BLOCKING_SYNC && session != nullptr) session->StopPolling();
}

}  // namespace

GPUPOOL_API CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice ordinal) {
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  std::lock_guard<std::mutex> lock(device->primary_mu);
  if (device->primary.id == 0) {
    protocol::Call<Op::DevicePrimaryCtxRetain>::Reply reply;
    GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::DevicePrimaryCtxRetain>(0, {ordinal}, &reply));
    device->primary.id = std::get<0>(reply);
    device->primary.flags = device->primary_flags;
  }
  ++device->primary_references;
  *context = reinterpret_cast<CUcontext>(&device->primary);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice ordinal) {
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  std::lock_guard<std::mutex> lock(device->primary_mu);
  if (device->primary_references == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--device->primary_references > 0) return CUDA_SUCCESS;
  TheDarkApi().OnContextDestroyed(reinterpret_cast<CUcontext>(&device->primary));
  ForgetContext(device->primary.id, ordinal);
  device->primary.id = 0;
  return Rpc<Op::DevicePrimaryCtxRelease>(0, {ordinal});
}

#undef cuDevicePrimaryCtxRelease
GPUPOOL_API CUresult cuDevicePrimaryCtxRelease(CUdevice ordinal) {
  return cuDevicePrimaryCtxRelease_v2(ordinal);
}

GPUPOOL_API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice ordinal, unsigned int flags) {
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  std::lock_guard<std::mutex> lock(device->primary_mu);
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::DevicePrimaryCtxSetFlags>(0, {ordinal, flags}));
  device->primary_flags = flags;
  device->primary.flags = flags;
  FollowSchedulingFlags(flags);
  return CUDA_SUCCESS;
}

#undef cuDevicePrimaryCtxSetFlags
GPUPOOL_API CUresult cuDevicePrimaryCtxSetFlags(CUdevice ordinal, unsigned int flags) {
  return cuDevicePrimaryCtxSetFlags_v2(ordinal, flags);
}

GPUPOOL_API CUresult cuDevicePrimaryCtxGetState(CUdevice ordinal, unsigned int* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  std::lock_guard<std::mutex> lock(device->primary_mu);
  *flags = device->primary_flags;
  *active = device->primary_references > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice ordinal) {
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  std::lock_guard<std::mutex> lock(device->primary_mu);
  TheDarkApi().OnContextDestroyed(reinterpret_cast<CUcontext>(&device->primary));
  ForgetContext(device->primary.id, ordinal);
  device->primary_references = 0;
  device->primary.id = 0;
  device->primary_flags = 0;
  return Rpc<Op::DevicePrimaryCtxReset>(0, {ordinal});
}

#undef cuDevicePrimaryCtxReset
GPUPOOL_API CUresult cuDevicePrimaryCtxReset(CUdevice ordinal) {
  return cuDevicePrimaryCtxReset_v2(ordinal);
}

GPUPOOL_API CUresult cuCtxCreate_v2(CUcontext* context, unsigned int flags, CUdevice ordinal) {
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  protocol::Call<Op::CtxCreate>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::CtxCreate>(0, {flags, ordinal}, &reply));
  auto object = std::make_unique<Context>();
  object->device = ordinal;
  object->id = std::get<0>(reply);
  object->flags = flags;
  object->uid = State::Get().NextContextUid();
  FollowSchedulingFlags(flags);
  Context* created = State::Get().contexts.Add(std::move(object));
  State::ContextStack().push_back(created);  // a new context is made current, as in CUDA
  *context = reinterpret_cast<CUcontext>(created);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxCreate_v3(CUcontext* context, CUexecAffinityParam* params, int count,
                                    unsigned int flags, CUdevice ordinal) {
  if (params != nullptr || count != 0) {
    GPUPOOL_LOG_ONCE(kWarn, "cuCtxCreate_v3") << "cuCtxCreate with execution affinity is not supported";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  return cuCtxCreate_v2(context, flags, ordinal);
}

GPUPOOL_API CUresult cuCtxCreate_v4(CUcontext* context, CUctxCreateParams* params, unsigned int flags,
                                    CUdevice ordinal) {
  if (params != nullptr && (params->execAffinityParams != nullptr || params->cigParams != nullptr)) {
    GPUPOOL_LOG_ONCE(kWarn, "cuCtxCreate_v4")
        << "cuCtxCreate with affinity or CIG parameters is not supported";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  return cuCtxCreate_v2(context, flags, ordinal);
}

GPUPOOL_API CUresult cuCtxDestroy_v2(CUcontext handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Context* context = State::Get().contexts.Find(handle);
  if (context == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  TheDarkApi().OnContextDestroyed(handle);
  ForgetServerEvents(context->id);
  ForgetManagedMemory(context->id);
  CUresult result = Rpc<Op::CtxDestroy>(0, {context->id});
  ForgetInStack(context);
  // Other threads may still hold it on their stacks (a program error CUDA does not catch either);
  // the object is kept so that such a stack never points at freed memory.
  (void)State::Get().contexts.Retire(handle);
  return result;
}

#undef cuCtxDestroy
GPUPOOL_API CUresult cuCtxDestroy(CUcontext handle) {
  return cuCtxDestroy_v2(handle);
}

// Deprecated: drops a usage count taken by cuCtxCreate or cuCtxAttach and destroys the context at 0.
// cuCtxAttach is not supported, so the count of a created context is always 1. The context must be
// current to the calling thread (cuda.h); a primary context was not made by either call.
GPUPOOL_API CUresult cuCtxDetach(CUcontext handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Context* context = State::Get().contexts.Find(handle);
  if (context == nullptr || context != State::Current()) return CUDA_ERROR_INVALID_CONTEXT;
  return cuCtxDestroy_v2(handle);
}

GPUPOOL_API CUresult cuCtxSetCurrent(CUcontext handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  auto& stack = State::ContextStack();
  if (handle == nullptr) {
    if (!stack.empty()) stack.pop_back();
    return CUDA_SUCCESS;
  }
  if (!State::Get().IsContext(handle)) return CUDA_ERROR_INVALID_CONTEXT;
  if (stack.empty()) stack.emplace_back();
  stack.back() = reinterpret_cast<Context*>(handle);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxGetCurrent(CUcontext* handle) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *handle = reinterpret_cast<CUcontext>(State::Current());
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxPushCurrent_v2(CUcontext handle) {
  Context* context = nullptr;
  if (handle == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(handle, &context));
  State::ContextStack().push_back(context);
  return CUDA_SUCCESS;
}

#undef cuCtxPushCurrent
GPUPOOL_API CUresult cuCtxPushCurrent(CUcontext handle) {
  return cuCtxPushCurrent_v2(handle);
}

GPUPOOL_API CUresult cuCtxPopCurrent_v2(CUcontext* handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  auto& stack = State::ContextStack();
  if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (handle != nullptr) *handle = reinterpret_cast<CUcontext>(stack.back());
  stack.pop_back();
  return CUDA_SUCCESS;
}

#undef cuCtxPopCurrent
GPUPOOL_API CUresult cuCtxPopCurrent(CUcontext* handle) {
  return cuCtxPopCurrent_v2(handle);
}

GPUPOOL_API CUresult cuCtxGetDevice_v2(CUdevice* device, CUcontext handle) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* context = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(handle, &context));
  *device = context->device;
  return CUDA_SUCCESS;
}

#undef cuCtxGetDevice
GPUPOOL_API CUresult cuCtxGetDevice(CUdevice* device) {
  return cuCtxGetDevice_v2(device, nullptr);
}

GPUPOOL_API CUresult cuCtxSynchronize_v2(CUcontext handle) {
  Context* context = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(handle, &context));
  if (context->id == 0) return CUDA_ERROR_INVALID_CONTEXT;
  GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());  // never during a capture (capture.h)
  const std::uint64_t frees = Pools::Get().FreeSeq();
  State::Get().order.DrainContext(context->id, false);  // host functions issued before, and their streams
  const CUresult result = WithLatched(Rpc<Op::CtxSynchronize>(context->id, {}), "cuCtxSynchronize");
  if (result == CUDA_SUCCESS) Pools::Get().AfterSync(context->id, nullptr, frees);
  return result;
}

#undef cuCtxSynchronize
GPUPOOL_API CUresult cuCtxSynchronize(void) {
  return cuCtxSynchronize_v2(nullptr);
}

GPUPOOL_API CUresult cuCtxGetFlags(unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* context = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(nullptr, &context));
  *flags = context->flags;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxGetId(CUcontext handle, unsigned long long* id) {
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* context = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(handle, &context));
  *id = context->uid;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuCtxGetApiVersion(CUcontext handle, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* context = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(handle, &context));
  protocol::Call<Op::CtxGetApiVersion>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::CtxGetApiVersion>(0, {context->id}, &reply));
  *version = std::get<0>(reply);
  return CUDA_SUCCESS;
}
