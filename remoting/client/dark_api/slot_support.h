// What the slot implementations (slots_*.cpp) share: finding the live DarkApi and the context a
// slot means. Internal to this library.
//
// Thread-safety: as DarkApi.
#pragma once

#include <cuda.h>

#include "remoting/client/dark_api/dark_api.h"

namespace gpupool::dark_api {

// `context`, or the calling thread's current context when it is null; checked with the host.
// CUDA_ERROR_INVALID_CONTEXT when there is none or it is not live.
CUresult ResolveContext(DarkApi& api, CUcontext context, CUcontext* resolved);

}  // namespace gpupool::dark_api

// Declares `api` (DarkApi&) in a slot, or returns CUDA_ERROR_DEINITIALIZED when no DarkApi is live.
#define GPUPOOL_DARK_API_OR_RETURN(api)                                             \
  ::gpupool::dark_api::DarkApi* api##_ptr = ::gpupool::dark_api::DarkApi::Active(); \
  if (api##_ptr == nullptr) return CUDA_ERROR_DEINITIALIZED;                        \
  ::gpupool::dark_api::DarkApi& api = *api##_ptr
