// The deprecated launch API of CUDA 1.x–3.x, still exported by CUDA 13's driver: a function's block
// shape, dynamic shared memory and parameter bytes are set by separate calls (cuFuncSetBlockShape,
// cuFuncSetSharedSize, cuParamSetSize, cuParamSet{i,f,v}), then cuLaunch / cuLaunchGrid(Async) launch it
// with them. Kept on the client with the function and launched as cuLaunchKernel with the bytes as one
// parameter buffer, so the launch is checked and sent like any other. cuParamSetTexRef (texture
// references) stays unsupported.
#include <cstring>
#include <mutex>
#include <vector>

#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"

using namespace gpupool::client;

namespace {

CUresult Find(CUfunction handle, Function** function) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *function = FindFunction(handle);
  return *function != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// Copies `bytes` bytes to `offset` of the function's parameter bytes, which cuParamSetSize sized.
CUresult SetParam(CUfunction handle, int offset, const void* value, unsigned bytes) {
  Function* f = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(Find(handle, &f));
  if (offset < 0 || (value == nullptr && bytes != 0)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(f->legacy_mu);
  const std::size_t at = static_cast<std::size_t>(offset);
  if (at > f->legacy_params.size() || bytes > f->legacy_params.size() - at) return CUDA_ERROR_INVALID_VALUE;
  if (bytes != 0) std::memcpy(f->legacy_params.data() + at, value, bytes);
  return CUDA_SUCCESS;
}

CUresult LaunchGrid(CUfunction handle, int width, int height, CUstream stream) {
  Function* f = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(Find(handle, &f));
  if (width <= 0 || height <= 0) return CUDA_ERROR_INVALID_VALUE;
  int block[3];
  unsigned shared = 0;
  std::vector<unsigned char> params;
  {
    std::lock_guard<std::mutex> lock(f->legacy_mu);
    std::memcpy(block, f->legacy_block, sizeof block);
    shared = f->legacy_shared;
    params = f->legacy_params;
  }
  if (block[0] <= 0) return CUDA_ERROR_INVALID_VALUE;  // cuFuncSetBlockShape never called
  std::size_t size = params.size();
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, params.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   CU_LAUNCH_PARAM_END};
  return cuLaunchKernel(handle, static_cast<unsigned>(width), static_cast<unsigned>(height), 1,
                        static_cast<unsigned>(block[0]), static_cast<unsigned>(block[1]),
                        static_cast<unsigned>(block[2]), shared, stream, nullptr, extra);
}

}  // namespace

GPUPOOL_API CUresult cuFuncSetBlockShape(CUfunction handle, int x, int y, int z) {
  Function* f = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(Find(handle, &f));
  if (x <= 0 || y <= 0 || z <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(f->legacy_mu);
  f->legacy_block[0] = x;
  f->legacy_block[1] = y;
  f->legacy_block[2] = z;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuFuncSetSharedSize(CUfunction handle, unsigned int bytes) {
  Function* f = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(Find(handle, &f));
  std::lock_guard<std::mutex> lock(f->legacy_mu);
  f->legacy_shared = bytes;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuParamSetSize(CUfunction handle, unsigned int bytes) {
  Function* f = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(Find(handle, &f));
  // The largest parameter block a launch can carry (cuLaunchKernel's limit).
  if (bytes > 32764) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(f->legacy_mu);
  f->legacy_params.assign(bytes, 0);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuParamSeti(CUfunction handle, int offset, unsigned int value) {
  return SetParam(handle, offset, &value, sizeof value);
}

GPUPOOL_API CUresult cuParamSetf(CUfunction handle, int offset, float value) {
  return SetParam(handle, offset, &value, sizeof value);
}

GPUPOOL_API CUresult cuParamSetv(CUfunction handle, int offset, void* ptr, unsigned int bytes) {
  return SetParam(handle, offset, ptr, bytes);
}

GPUPOOL_API CUresult cuLaunch(CUfunction handle) {
  return LaunchGrid(handle, 1, 1, nullptr);
}

GPUPOOL_API CUresult cuLaunchGrid(CUfunction handle, int width, int height) {
  return LaunchGrid(handle, width, height, nullptr);
}

GPUPOOL_API CUresult cuLaunchGridAsync(CUfunction handle, int width, int height, CUstream stream) {
  return LaunchGrid(handle, width, height, stream);
}
