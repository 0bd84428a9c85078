// What a stream is: its context and device (known here: a stream remembers the context it was
// created in; the NULL, legacy and per-thread streams belong to the current one), its id (the
// server driver's), and its attributes (access policy window, synchronisation policy, priority,
// memory synchronisation domain), forwarded so that they take effect on the GPU.
#include <cstring>

#include "remoting/client/api_support.h"

using namespace gpupool::client;

namespace {

// The context of `stream`: the stream's own, or the current one for the default streams.
CUresult ContextOf(CUstream stream, Context** context) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  const auto raw = reinterpret_cast<std::uintptr_t>(stream);
  if (raw == 0 || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) {
    *context = State::Current();
    return *context != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
  }
  Stream* s = State::Get().streams.Find(stream);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *context = s->context;
  return CUDA_SUCCESS;
}

CUresult GetCtx(CUstream stream, CUcontext* ctx, CUgreenCtx* green) {
  if (ctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* context = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(ContextOf(stream, &context));
  *ctx = reinterpret_cast<CUcontext>(context);
  if (green != nullptr) *green = nullptr;  // gpupool's client creates no green contexts
  return CUDA_SUCCESS;
}

CUresult GetDevice(CUstream stream, CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* context = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(ContextOf(stream, &context));
  *device = context->device;
  return CUDA_SUCCESS;
}

CUresult GetId(CUstream stream, unsigned long long* out, bool per_thread) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  protocol::Call<Op::StreamGetId>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::StreamGetId>(context, {id}, &reply));
  *out = std::get<0>(reply);
  return CUDA_SUCCESS;
}

CUresult GetAttribute(CUstream stream, CUstreamAttrID attr, CUstreamAttrValue* value, bool per_thread) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  protocol::Call<Op::StreamGetAttribute>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::StreamGetAttribute>(context, {id, static_cast<std::int32_t>(attr)}, &reply));
  const std::string& raw = std::get<0>(reply);
  if (raw.size() != sizeof *value) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(static_cast<void*>(value), raw.data(), sizeof *value);
  return CUDA_SUCCESS;
}

CUresult SetAttribute(CUstream stream, CUstreamAttrID attr, const CUstreamAttrValue* value, bool per_thread) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  std::string raw(reinterpret_cast<const char*>(value), sizeof *value);
  return Rpc<Op::StreamSetAttribute>(context, {id, static_cast<std::int32_t>(attr), raw});
}

CUresult CopyAttributes(CUstream dst, CUstream src, bool per_thread) {
  std::uint64_t context = 0, to = 0, from = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(dst, per_thread, &to));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(src, per_thread, &from));
  return Rpc<Op::StreamCopyAttributes>(context, {to, from});
}

}  // namespace

GPUPOOL_API CUresult cuStreamGetCtx(CUstream stream, CUcontext* ctx) {
  return GetCtx(stream, ctx, nullptr);
}
GPUPOOL_API CUresult cuStreamGetCtx_ptsz(CUstream stream, CUcontext* ctx) {
  return GetCtx(stream, ctx, nullptr);
}
GPUPOOL_API CUresult cuStreamGetCtx_v2(CUstream stream, CUcontext* ctx, CUgreenCtx* green) {
  return GetCtx(stream, ctx, green);
}
GPUPOOL_API CUresult cuStreamGetCtx_v2_ptsz(CUstream stream, CUcontext* ctx, CUgreenCtx* green) {
  return GetCtx(stream, ctx, green);
}
GPUPOOL_API CUresult cuStreamGetDevice(CUstream stream, CUdevice* device) {
  return GetDevice(stream, device);
}
GPUPOOL_API CUresult cuStreamGetDevice_ptsz(CUstream stream, CUdevice* device) {
  return GetDevice(stream, device);
}
GPUPOOL_API CUresult cuStreamGetId(CUstream stream, unsigned long long* id) {
  return GetId(stream, id, false);
}
GPUPOOL_API CUresult cuStreamGetId_ptsz(CUstream stream, unsigned long long* id) {
  return GetId(stream, id, true);
}
GPUPOOL_API CUresult cuStreamGetAttribute(CUstream stream, CUstreamAttrID attr, CUstreamAttrValue* value) {
  return GetAttribute(stream, attr, value, false);
}
GPUPOOL_API CUresult cuStreamGetAttribute_ptsz(CUstream stream, CUstreamAttrID attr,
                                               CUstreamAttrValue* value) {
  return GetAttribute(stream, attr, value, true);
}
GPUPOOL_API CUresult cuStreamSetAttribute(CUstream stream, CUstreamAttrID attr,
                                          const CUstreamAttrValue* value) {
  return SetAttribute(stream, attr, value, false);
}
GPUPOOL_API CUresult cuStreamSetAttribute_ptsz(CUstream stream, CUstreamAttrID attr,
                                               const CUstreamAttrValue* value) {
  return SetAttribute(stream, attr, value, true);
}
GPUPOOL_API CUresult cuStreamCopyAttributes(CUstream dst, CUstream src) {
  return CopyAttributes(dst, src, false);
}
GPUPOOL_API CUresult cuStreamCopyAttributes_ptsz(CUstream dst, CUstream src) {
  return CopyAttributes(dst, src, true);
}
