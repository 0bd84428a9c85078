// CONTEXT_LOCAL_STORAGE_INTERFACE_V0301: where each runtime instance keeps its per-context state.
#include "common/log.h"
#include "remoting/client/dark_api/slot_support.h"
#include "remoting/client/dark_api/slots.h"

namespace gpupool::dark_api::slots {

CUresult ContextLocalStorage_context_local_storage_put(CUcontext context, void* key, void* value,
                                                       ContextStorageDestructor destructor) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  CUresult result = ResolveContext(api, context, &context);
  if (result == CUDA_SUCCESS) api.storage().Put(context, key, value, destructor);
  GPUPOOL_LOG(kTrace) << "dark_api: CONTEXT_LOCAL_STORAGE.put(context " << context << ", key " << key
                      << ") -> " << result;
  return result;
}

CUresult ContextLocalStorage_context_local_storage_get(void** value, CUcontext context, void* key) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = ResolveContext(api, context, &context);
  if (result == CUDA_SUCCESS) result = api.storage().Get(context, key, value);
  GPUPOOL_LOG(kTrace) << "dark_api: CONTEXT_LOCAL_STORAGE.get(context " << context << ", key " << key
                      << ") -> " << result;
  return result;
}

CUresult ContextLocalStorage_context_local_storage_delete(CUcontext context, void* key) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  // No liveness check: runtimes delete their entries from atexit handlers, when the context may
  // already be gone.
  if (context == nullptr) {
    CUresult result = api.host().CurrentContext(&context);
    if (result != CUDA_SUCCESS) return result;
  }
  const CUresult result = api.storage().Delete(context, key);
  GPUPOOL_LOG(kTrace) << "dark_api: CONTEXT_LOCAL_STORAGE.delete(context " << context << ", key " << key
                      << ") -> " << result;
  return result;
}

}  // namespace gpupool::dark_api::slots
