// cuLaunchHostFunc and cuStreamAddCallback: run on the client in stream order (host_functions.h).
#include "remoting/client/api_support.h"
#include "remoting/client/host_functions.h"

using namespace gpupool::client;

namespace {

CUresult Launch(CUstream stream, const HostCall& call, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  Stream* s = State::Get().streams.Find(stream);
  Context* owner = s != nullptr ? s->context : State::Current();
  return LaunchHost(stream, owner, context, id, call);
}

CUresult HostFunc(CUstream stream, CUhostFn fn, void* user_data, bool per_thread) {
  if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Launch(stream, {fn, nullptr, stream, user_data}, per_thread);
}

CUresult AddCallback(CUstream stream, CUstreamCallback callback, void* user_data, unsigned flags,
                     bool per_thread) {
  if (callback == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;  // flags are reserved
  return Launch(stream, {nullptr, callback, stream, user_data}, per_thread);
}

}  // namespace

GPUPOOL_API CUresult cuLaunchHostFunc(CUstream stream, CUhostFn fn, void* user_data) {
  return HostFunc(stream, fn, user_data, false);
}
GPUPOOL_API CUresult cuLaunchHostFunc_ptsz(CUstream stream, CUhostFn fn, void* user_data) {
  return HostFunc(stream, fn, user_data, true);
}
GPUPOOL_API CUresult cuStreamAddCallback(CUstream stream, CUstreamCallback callback, void* user_data,
                                         unsigned int flags) {
  return AddCallback(stream, callback, user_data, flags, false);
}
GPUPOOL_API CUresult cuStreamAddCallback_ptsz(CUstream stream, CUstreamCallback callback, void* user_data,
                                              unsigned int flags) {
  return AddCallback(stream, callback, user_data, flags, true);
}
