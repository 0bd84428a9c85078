// Handlers: copies. Device ranges are checked against the session's allocations before the copy;
// host data is the request's tail (to the device) or session.staging (from the device).
//
// Ring copies (protocol/copy_ring.h) take or leave host bytes in a slot of the session's copy ring.
//
// 1D host<->device chunks skip those host buffers when the backend's device memory is host-addressable
// (Backend::HostView, the emulated device): a deferred bulk tail is received from the socket straight
// into the destination, and a reply tail is sent straight from the source, so the worker moves each
// byte no more often than a raw socket peer does. The copy call is still made, with zero bytes, for
// its own checks and its stream ordering, before any byte moves.
#include "remoting/protocol/frame.h"
#include "remoting/protocol/frame_reader.h"
#include "remoting/server/dispatch.h"
#include "remoting/server/packed_rows.h"

namespace gpupool::server {
namespace {

constexpr std::uint32_t kHost = 1, kDevice = 2;  // memory types of the 2D copy fields

// Reserves `size` bytes of reply tail.
char* Staging(Session& s, std::size_t size) {
  if (s.staging.size() < size) s.staging.resize(size);
  s.reply_tail = std::string_view(s.staging.data(), size);
  return s.staging.data();
}

void CountTo(Session& s, std::uint64_t n) {
  if (SessionGpu* gpu = s.IssuingGpu()) gpu->bytes_to_device += n;
}
void CountFrom(Session& s, std::uint64_t n) {
  if (SessionGpu* gpu = s.IssuingGpu()) gpu->bytes_from_device += n;
}
// A device-to-device copy with one side in the session's mapped host memory is how a client on this
// host copies its pinned buffers (mapped_arena.h): it counts as a host copy.
void CountMapped(Session& s, std::uint64_t dst, std::uint64_t src, std::uint64_t n) {
  if (s.mapped_arena == nullptr) return;  // no such memory: spare the lookups
  const bool to_host = s.memory.HostMapped(dst), from_host = s.memory.HostMapped(src);
  if (from_host && !to_host) CountTo(s, n);
  if (to_host && !from_host) CountFrom(s, n);
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

// A host-to-device chunk of the request's tail to `dst`; `copy(src, n)` is the driver's copy. A
// deferred tail (still on the socket) goes straight into host-addressable device memory, or else is
// buffered first. A tail left unread (a refused chunk) is read and dropped by the worker.
template <typename Copy>
CUresult ToDevice(Session& s, std::uint64_t dst, std::string_view tail, Copy copy) {
  protocol::FrameReader* deferred = s.deferred_tail;
  const std::size_t size = deferred != nullptr ? deferred->left() : tail.size();
  if (CUresult r = s.CheckRange(dst, size); r != CUDA_SUCCESS) return r;
  if (deferred != nullptr) {
    if (std::byte* host = s.HostView(dst, size)) {
      if (CUresult r = copy(host, 0); r != CUDA_SUCCESS) return r;
      CountTo(s, size);
      // A failed receive breaks the reader; the worker then ends the session.
      return deferred->TakeInto(host, size).ok() ? CUDA_SUCCESS : CUDA_ERROR_UNKNOWN;
    }
    auto buffered = deferred->Take(size);
    if (!buffered.ok()) return CUDA_ERROR_UNKNOWN;
    tail = *buffered;
  }
  CountTo(s, size);
  return copy(tail.data(), size);
}

// A device-to-host chunk of `size` bytes from `src` as the reply's tail; `copy(dst, n)` is the
// driver's copy (and whatever wait makes its bytes present).
template <typename Copy>
CUresult FromDevice(Session& s, std::uint64_t src, std::uint64_t size, Copy copy) {
  if (size > protocol::kChunkSize) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  CountFrom(s, size);
  if (std::byte* host = s.HostView(src, size)) {
    CUresult r = copy(host, 0);
    if (r == CUDA_SUCCESS) s.reply_tail = std::string_view(reinterpret_cast<const char*>(host), size);
    return r;
  }
  return copy(Staging(s, size), size);
}

// The ring slot of a ring copy (protocol/copy_ring.h), or null: no ring, or slot or size out of range.
std::byte* RingSlot(const Session& s, std::uint32_t slot, std::uint64_t size) {
  return s.ring != nullptr ? s.ring->Slot(slot, size) : nullptr;
}

// A device-to-host chunk of `size` bytes from `src` into ring slot `slot`; `copy(dst)` is the
// driver's copy (and whatever wait makes its bytes present).
template <typename Copy>
CUresult FromDeviceToRing(Session& s, std::uint64_t src, std::uint64_t size, std::uint32_t slot, Copy copy) {
  std::byte* to = RingSlot(s, slot, size);
  if (to == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  CountFrom(s, size);
  return copy(to);
}

// The slot holding `height` packed rows of `width` bytes, or null (no ring, a slot out of range, rows
// that do not fit).
std::byte* RingRows(const Session& s, std::uint32_t slot, std::uint64_t width, std::uint64_t height) {
  if (height != 0 && width > protocol::kRingSlotBytes / height) return nullptr;
  return RingSlot(s, slot, width * height);
}

}  // namespace

GPUPOOL_HANDLER(MemcpyHtoDRing) {
  const auto& [dst, slot, size] = in;
  const std::byte* from = RingSlot(s, slot, size);
  if (from == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = s.CheckRange(dst, size); r != CUDA_SUCCESS) return r;
  CountTo(s, size);
  return GPUPOOL_DRIVER(s, cuMemcpyHtoD_v2, dst, from, size);
}

GPUPOOL_HANDLER(MemcpyHtoDAsyncRing) {
  const auto& [dst, stream_id, slot, size] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  const std::byte* from = RingSlot(s, slot, size);
  if (from == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = s.CheckRange(dst, size); r != CUDA_SUCCESS) return r;
  CountTo(s, size);
  // The ring is pageable memory (never registered with the driver), so the driver has taken the
  // slot's bytes when this returns, before the client may reuse the slot.
  return GPUPOOL_DRIVER(s, cuMemcpyHtoDAsync_v2, dst, from, size, stream);
}

GPUPOOL_HANDLER(Memcpy2DToDeviceRing) {
  const auto& [dst, pitch, x, y, width, height, stream_id, async, slot] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  const std::byte* from = RingRows(s, slot, width, height);
  if (from == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t start = 0;
  if (CUresult r = Side2D(s, kDevice, dst, pitch, x, y, width, height, &start); r != CUDA_SUCCESS) return r;
  CUDA_MEMCPY2D copy{};
  copy.srcMemoryType = CU_MEMORYTYPE_HOST;
  copy.srcHost = from;
  copy.srcPitch = width;
  copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.dstDevice = start;
  copy.dstPitch = pitch;
  copy.WidthInBytes = width;
  copy.Height = height;
  CountTo(s, width * height);
  // The ring is pageable memory: the driver has taken the rows when an asynchronous copy returns.
  return async != 0 ? GPUPOOL_DRIVER(s, cuMemcpy2DAsync_v2, &copy, stream)
                    : GPUPOOL_DRIVER(s, cuMemcpy2DUnaligned_v2, &copy);
}

GPUPOOL_HANDLER(Memcpy2DFromDeviceRing) {
  const auto& [src, pitch, x, y, width, height, stream_id, async, slot] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  std::byte* to = RingRows(s, slot, width, height);
  if (to == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t start = 0;
  if (CUresult r = Side2D(s, kDevice, src, pitch, x, y, width, height, &start); r != CUDA_SUCCESS) return r;
  const CUDA_MEMCPY2D copy = PackedRowsFromDevice(start, pitch, width, height, to);
  CountFrom(s, width * height);
  CUresult r = async != 0 ? GPUPOOL_DRIVER(s, cuMemcpy2DAsync_v2, &copy, stream)
                          : GPUPOOL_DRIVER(s, cuMemcpy2DUnaligned_v2, &copy);
  if (r != CUDA_SUCCESS || async == 0) return r;
  return GPUPOOL_DRIVER(s, cuStreamSynchronize, stream);
}

GPUPOOL_HANDLER(MemcpyDtoHRing) {
  const auto& [src, size, slot] = in;
  return FromDeviceToRing(s, src, size, slot,
                          [&](std::byte* to) { return GPUPOOL_DRIVER(s, cuMemcpyDtoH_v2, to, src, size); });
}

GPUPOOL_HANDLER(MemcpyDtoHAsyncRing) {
  const auto& [src, size, stream_id, slot] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  return FromDeviceToRing(s, src, size, slot, [&](std::byte* to) {
    CUresult r = GPUPOOL_DRIVER(s, cuMemcpyDtoHAsync_v2, to, src, size, stream);
    if (r != CUDA_SUCCESS) return r;
    return GPUPOOL_DRIVER(s, cuStreamSynchronize, stream);
  });
}

GPUPOOL_HANDLER(MemcpyHtoD) {
  const std::uint64_t dst = std::get<0>(in);
  return ToDevice(s, dst, tail, [&](const void* src, std::size_t n) {
    return GPUPOOL_DRIVER(s, cuMemcpyHtoD_v2, dst, src, n);
  });
}

GPUPOOL_HANDLER(MemcpyHtoDAsync) {
  const auto& [dst, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  // The source is pageable memory the next frame overwrites: the driver (and the emulated device)
  // consume a pageable source before returning.
  return ToDevice(s, dst, tail, [&](const void* src, std::size_t n) {
    return GPUPOOL_DRIVER(s, cuMemcpyHtoDAsync_v2, dst, src, n, stream);
  });
}

GPUPOOL_HANDLER(MemcpyDtoH) {
  const auto& [src, size] = in;
  return FromDevice(s, src, size, [&](void* dst, std::size_t n) {
    return GPUPOOL_DRIVER(s, cuMemcpyDtoH_v2, dst, src, n);
  });
}

GPUPOOL_HANDLER(MemcpyDtoHAsync) {
  const auto& [src, size, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  return FromDevice(s, src, size, [&](void* dst, std::size_t n) {
    CUresult r = GPUPOOL_DRIVER(s, cuMemcpyDtoHAsync_v2, dst, src, n, stream);
    if (r != CUDA_SUCCESS) return r;
    return GPUPOOL_DRIVER(s, cuStreamSynchronize, stream);  // the bytes must be there to send them
  });
}

GPUPOOL_HANDLER(MemcpyDtoHDeferred) {
  const auto& [src, size, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  CUresult r = s.deferred.Start(s.request, src, size, stream);  // at most kChunkSize, or refused
  if (r == CUDA_SUCCESS) CountFrom(s, size);
  return r;
}

GPUPOOL_HANDLER(Memcpy2DFromDeviceDeferred) {
  const auto& [src, pitch, width, height, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange2D(src, pitch, width, height); r != CUDA_SUCCESS) return r;
  CUresult r = s.deferred.StartRows(s.request, src, pitch, width, height, stream);  // checks the shape
  if (r == CUDA_SUCCESS) CountFrom(s, width * height);
  return r;
}

// Dispatch sends the copies' replies before this one, once they are finished.
GPUPOOL_HANDLER(DeferredCopiesFinish) {
  s.deferred.WaitAll();
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemcpyDtoD) {
  const auto& [dst, src, size] = in;
  if (CUresult r = s.CheckRange(dst, size); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  CountMapped(s, dst, src, size);
  return GPUPOOL_DRIVER(s, cuMemcpyDtoD_v2, dst, src, size);
}

GPUPOOL_HANDLER(MemcpyDtoDAsync) {
  const auto& [dst, src, size, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange(dst, size); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.CheckRange(src, size); r != CUDA_SUCCESS) return r;
  CountMapped(s, dst, src, size);
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
    CountMapped(s, copy.dstDevice, copy.srcDevice, width * height);
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
  const CUDA_MEMCPY2D copy =
      PackedRowsFromDevice(start, src_pitch, width, height, Staging(s, width * height));
  CountFrom(s, width * height);
  CUresult r = async != 0 ? GPUPOOL_DRIVER(s, cuMemcpy2DAsync_v2, &copy, stream)
                          : GPUPOOL_DRIVER(s, cuMemcpy2DUnaligned_v2, &copy);
  if (r != CUDA_SUCCESS || async == 0) return r;
  return GPUPOOL_DRIVER(s, cuStreamSynchronize, stream);
}

}  // namespace gpupool::server
