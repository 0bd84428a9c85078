// The driver's copy of device rows into a packed host buffer: how the worker stages a 2D copy to the
// host (Memcpy2DFromDevice) and a deferred one (Memcpy2DFromDeviceDeferred) before the rows travel.
//
// Thread-safety: a pure function.
#pragma once

#include <cuda.h>

#include <cstddef>

namespace gpupool::server {

// `height` rows of `width` bytes, `pitch` apart from `src`, to `host` one after another.
inline CUDA_MEMCPY2D PackedRowsFromDevice(CUdeviceptr src, std::size_t pitch, std::size_t width,
                                          std::size_t height, void* host) {
  CUDA_MEMCPY2D copy{};
  copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = src;
  copy.srcPitch = pitch;
  copy.dstMemoryType = CU_MEMORYTYPE_HOST;
  copy.dstHost = host;
  copy.dstPitch = width;
  copy.WidthInBytes = width;
  copy.Height = height;
  return copy;
}

}  // namespace gpupool::server
