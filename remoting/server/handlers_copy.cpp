// Handlers: copies. Device ranges are checked against the session's allocations before the copy;
// host data is the request's tail (to the device) or session.staging (from the device).
#include "remoting/protocol/frame.h"
#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

constexpr std::uint32_t kHost = 1, kDevice = 2;  // memory types of the 2D copy fields

// Reserves `size` bytes of reply tail.
char* Staging(Session& s, std::size_t size) {
  if (s.staging.size() < size) s.staging.resize(size);
  s.staging_size = size;
  return s.staging.data();
}

void CountTo(Session& s, std::uint64_t n) {
  if (s.stats != nullptr) s.stats->bytes_to_device += n;
}
void CountFrom(Session& s, std::uint64_t n) {
  if (s.stats != nullptr) s.stats->bytes_from_device += n;
}

// One side of a 2D copy: its device address (checked: rows of `width` bytes inside one allocation),
// or the packed host buffer.
CUresult Side2D(const Session& s, std::uint32_t type, std::uint64_t ptr, std::uint64_t pitch, std::uint64_t x,
                std::uint64_t y, std::uint64_t width, std::uint64_t height, std::uint64_t* start) {
  if (type != kDevice) return CUDA_ERROR_INVALID_VALUE;
  if (pitch != 0 && y > (UINT64_MAX - x) / pitch) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t offset = y * pitch + x;
  if (offset > UINT64_MAX - ptr) return CUDA_ERROR_INVALID_VALUE;
  *start = ptr + offset;
  return s.CheckRange2D(*start, pitch, width, height);
}

}  // namespace

GPUPOOL_HANDLER(MemcpyHtoD) {
  std::uint64_t dst = std::get<0>(in);
  if (CUresult r = s.CheckRange(dst, tail.size()); r != CUDA_SUCCESS) return r;
  CountTo(s, tail.size());
  return GPUPOOL_DRIVER(s, cuMemcpyHtoD_v2, dst, tail.data(), tail.size());
}

GPUPOOL_HANDLER(MemcpyHtoDAsync) {
  const auto& [dst, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange(dst, tail.size()); r != CUDA_SUCCESS) return r;
  CountTo(s, tail.size());
  // The tail is pageable memory the next frame overwrites: the driver (and the emulated device)
  // consume a pageable source before returning.
  return GPUPOOL_DRIVER(s, cuMemcpyHtoDAsync_v2, dst, tail.data(), tail.size(), stream);
}

GPUPOOL_HANDLER(MemcpyDtoH) {
  const auto& [src, size] = in;
  if (size > protocol::kChunkSize) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  CountFrom(s, size);
  return GPUPOOL_DRIVER(s, cuMemcpyDtoH_v2, Staging(s, size), src, size);
}

GPUPOOL_HANDLER(MemcpyDtoHAsync) {
  const auto& [src, size, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (size > protocol::kChunkSize) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  CountFrom(s, size);
  CUresult r = GPUPOOL_DRIVER(s, cuMemcpyDtoHAsync_v2, Staging(s, size), src, size, stream);
  if (r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuStreamSynchronize, stream);  // the bytes must be there to send them
}

GPUPOOL_HANDLER(MemcpyDtoD) {
  const auto& [dst, src, size] = in;
  if (CUresult r = s.CheckRange(dst, size); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuMemcpyDtoD_v2, dst, src, size);
}

GPUPOOL_HANDLER(MemcpyDtoDAsync) {
  const auto& [dst, src, size, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange(dst, size); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuMemcpyDtoDAsync_v2, dst, src, size, stream);
}

GPUPOOL_HANDLER(Memcpy2DToDevice) {
  const auto& [src_type, src, src_pitch, src_x, src_y, dst_type, dst, dst_pitch, dst_x, dst_y, width, height,
               stream_id, async] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  CUDA_MEMCPY2D copy{};
  copy.WidthInBytes = width;
  copy.Height = height;
  std::uint64_t start = 0;
  if (CUresult r = Side2D(s, dst_type, dst, dst_pitch, dst_x, dst_y, width, height, &start);
      r != CUDA_SUCCESS) {
    return r;
  }
  copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.dstDevice = start;
  copy.dstPitch = dst_pitch;
  if (src_type == kHost) {
    if (height != 0 && width > tail.size() / height) return CUDA_ERROR_INVALID_VALUE;
    if (tail.size() != width * height) return CUDA_ERROR_INVALID_VALUE;
    copy.srcMemoryType = CU_MEMORYTYPE_HOST;
    copy.srcHost = tail.data();
    copy.srcPitch = width;
    CountTo(s, tail.size());
  } else {
    if (!tail.empty()) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = Side2D(s, src_type, src, src_pitch, src_x, src_y, width, height, &start);
        r != CUDA_SUCCESS) {
      return r;
    }
    copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    copy.srcDevice = start;
    copy.srcPitch = src_pitch;
  }
  return async != 0 ? GPUPOOL_DRIVER(s, cuMemcpy2DAsync_v2, &copy, stream)
                    : GPUPOOL_DRIVER(s, cuMemcpy2DUnaligned_v2, &copy);
}

GPUPOOL_HANDLER(Memcpy2DFromDevice) {
  const auto& [src_type, src, src_pitch, src_x, src_y, dst_type, dst, dst_pitch, dst_x, dst_y, width, height,
               stream_id, async] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (dst_type != kHost) return CUDA_ERROR_INVALID_VALUE;
  if (height != 0 && width > protocol::kChunkSize / height) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t start = 0;
  if (CUresult r = Side2D(s, src_type, src, src_pitch, src_x, src_y, width, height, &start);
      r != CUDA_SUCCESS) {
    return r;
  }
  CUDA_MEMCPY2D copy{};
  copy.WidthInBytes = width;
  copy.Height = height;
  copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = start;
  copy.srcPitch = src_pitch;
  copy.dstMemoryType = CU_MEMORYTYPE_HOST;
  copy.dstHost = Staging(s, width * height);
  copy.dstPitch = width;
  CountFrom(s, width * height);
  CUresult r = async != 0 ? GPUPOOL_DRIVER(s, cuMemcpy2DAsync_v2, &copy, stream)
                          : GPUPOOL_DRIVER(s, cuMemcpy2DUnaligned_v2, &copy);
  if (r != CUDA_SUCCESS || async == 0) return r;
  return GPUPOOL_DRIVER(s, cuStreamSynchronize, stream);
}

}  // namespace gpupool::server
