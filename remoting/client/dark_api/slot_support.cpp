#include "remoting/client/dark_api/slot_support.h"

namespace gpupool::dark_api {

CUresult ResolveContext(DarkApi& api, CUcontext context, CUcontext* resolved) {
  if (context == nullptr) {
    CUresult result = api.host().CurrentContext(&context);
    if (result != CUDA_SUCCESS) return result;
    if (context == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  }
  CUresult result = api.host().CheckContext(context);
  if (result != CUDA_SUCCESS) return result;
  *resolved = context;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::dark_api
