// Handlers: memsets and stream value writes. Always asynchronous on the wire (stream 0 for the synchronous
// driver calls); the range is checked against the session's allocations first.
#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

CUresult Check1D(const Session& s, std::uint64_t dst, std::uint64_t count, std::uint64_t element,
                 std::uint64_t stream_id, CUstream* stream) {
  if (CUresult r = s.Stream(stream_id, stream); r != CUDA_SUCCESS) return r;
  if (count > UINT64_MAX / element) return CUDA_ERROR_INVALID_VALUE;
  return s.CheckRange(dst, count * element);
}

CUresult Check2D(const Session& s, std::uint64_t dst, std::uint64_t pitch, std::uint64_t width,
                 std::uint64_t height, std::uint64_t element, std::uint64_t stream_id, CUstream* stream) {
  if (CUresult r = s.Stream(stream_id, stream); r != CUDA_SUCCESS) return r;
  if (width > UINT64_MAX / element) return CUDA_ERROR_INVALID_VALUE;
  return s.CheckRange2D(dst, pitch, width * element, height);
}

}  // namespace

GPUPOOL_HANDLER(MemsetD8) {
  const auto& [dst, value, count, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = Check1D(s, dst, count, 1, stream_id, &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuMemsetD8Async, dst, static_cast<unsigned char>(value), count, stream);
}

GPUPOOL_HANDLER(MemsetD16) {
  const auto& [dst, value, count, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = Check1D(s, dst, count, 2, stream_id, &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuMemsetD16Async, dst, static_cast<unsigned short>(value), count, stream);
}

GPUPOOL_HANDLER(MemsetD32) {
  const auto& [dst, value, count, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = Check1D(s, dst, count, 4, stream_id, &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuMemsetD32Async, dst, value, count, stream);
}

GPUPOOL_HANDLER(MemsetD2D8) {
  const auto& [dst, pitch, value, width, height, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = Check2D(s, dst, pitch, width, height, 1, stream_id, &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuMemsetD2D8Async, dst, pitch, static_cast<unsigned char>(value), width, height,
                        stream);
}

GPUPOOL_HANDLER(MemsetD2D16) {
  const auto& [dst, pitch, value, width, height, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = Check2D(s, dst, pitch, width, height, 2, stream_id, &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuMemsetD2D16Async, dst, pitch, static_cast<unsigned short>(value), width, height,
                        stream);
}

GPUPOOL_HANDLER(MemsetD2D32) {
  const auto& [dst, pitch, value, width, height, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = Check2D(s, dst, pitch, width, height, 4, stream_id, &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuMemsetD2D32Async, dst, pitch, value, width, height, stream);
}

// cuStreamWriteValue32/64: the word must lie in the session's memory.
GPUPOOL_HANDLER(StreamWriteValue) {
  const auto& [stream_id, dst, value, flags, width] = in;
  if (width != 4 && width != 8) return CUDA_ERROR_INVALID_VALUE;
  CUstream stream = nullptr;
  if (CUresult r = Check1D(s, dst, 1, width, stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (width == 4) {
    if (value > UINT32_MAX) return CUDA_ERROR_INVALID_VALUE;
    return GPUPOOL_DRIVER(s, cuStreamWriteValue32_v2, stream, dst, static_cast<cuuint32_t>(value), flags);
  }
  return GPUPOOL_DRIVER(s, cuStreamWriteValue64_v2, stream, dst, value, flags);
}

}  // namespace gpupool::server
