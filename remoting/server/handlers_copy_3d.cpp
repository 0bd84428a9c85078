// Handlers: copies with a CUDA array on either side (Memcpy3DToDevice, Memcpy3DFromDevice). Each
// side is checked before the driver sees it: an array side against the array's extent, a device side
// against one of the session's allocations, a host side against the request's tail (to the device)
// or the reply's staging (from it). A copy past an array or an allocation is
// CUDA_ERROR_INVALID_VALUE and moves nothing.
#include "remoting/protocol/frame.h"
#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

constexpr std::uint32_t kHost = 1, kDevice = 2, kArray = 3;  // memory types of the copy fields

struct Box {
  std::uint64_t width = 0, height = 0, depth = 0;
};

// A device side: the span from its first to its last byte must lie in one of the session's
// allocations (rows `pitch` apart, slices `pitch * slice_rows` apart).
CUresult DeviceSide(const Session& s, std::uint64_t ptr, std::uint64_t pitch, std::uint64_t slice_rows,
                    std::uint64_t x, std::uint64_t y, std::uint64_t z, const Box& box) {
  if ((box.height > 1 || box.depth > 1) && (x > pitch || box.width > pitch - x))
    return CUDA_ERROR_INVALID_VALUE;
  if (box.depth > 1 && (y > slice_rows || box.height > slice_rows - y)) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t slice = 0, start = 0, t = 0, extent = 0;
  if (__builtin_mul_overflow(pitch, slice_rows, &slice) || __builtin_mul_overflow(z, slice, &start) ||
      __builtin_mul_overflow(y, pitch, &t) || __builtin_add_overflow(start, t, &start) ||
      __builtin_add_overflow(start, x, &start) || __builtin_add_overflow(ptr, start, &start) ||
      __builtin_mul_overflow(box.depth - 1, slice, &extent) ||
      __builtin_mul_overflow(box.height - 1, pitch, &t) || __builtin_add_overflow(extent, t, &extent) ||
      __builtin_add_overflow(extent, box.width, &extent)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return s.CheckRange(start, extent);
}

// Fills one side of `copy` (src or dst) from its wire fields; a host side is `host`, packed.
template <typename Fields>
CUresult Side(const Session& s, const Fields& f, const Box& box, void* host, CUmemorytype* type,
              const void** host_out, CUdeviceptr* device, CUarray* array, std::size_t* pitch,
              std::size_t* height, std::size_t* x, std::size_t* y, std::size_t* z) {
  const auto& [kind, handle, wire_pitch, slice_rows, wx, wy, wz] = f;
  *x = wx;
  *y = wy;
  *z = wz;
  switch (kind) {
    case kHost:
      if (host == nullptr || handle != 0 || wx != 0 || wy != 0 || wz != 0) return CUDA_ERROR_INVALID_VALUE;
      *type = CU_MEMORYTYPE_HOST;
      *host_out = host;
      *pitch = box.width;
      *height = box.height;
      return CUDA_SUCCESS;
    case kDevice:
      if (CUresult r = DeviceSide(s, handle, wire_pitch, slice_rows, wx, wy, wz, box); r != CUDA_SUCCESS)
        return r;
      *type = CU_MEMORYTYPE_DEVICE;
      *device = handle;
      *pitch = wire_pitch;
      *height = slice_rows;
      return CUDA_SUCCESS;
    case kArray: {
      protocol::ArrayExtent extent;
      if (CUresult r = s.Array(handle, array, &extent); r != CUDA_SUCCESS) return r;
      if (!protocol::ArrayBoxInside(extent, wx, wy, wz, box.width, box.height, box.depth))
        return CUDA_ERROR_INVALID_VALUE;
      *type = CU_MEMORYTYPE_ARRAY;
      return CUDA_SUCCESS;
    }
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

using Request = protocol::Call<protocol::Op::Memcpy3DToDevice>::Request;

// Decodes both sides; `src_host` / `dst_host` is the host buffer of that side, when it has one.
CUresult Decode(const Session& s, const Request& in, void* src_host, void* dst_host, CUDA_MEMCPY3D* c) {
  const Box box{std::get<14>(in), std::get<15>(in), std::get<16>(in)};
  *c = CUDA_MEMCPY3D{};
  c->WidthInBytes = box.width;
  c->Height = box.height;
  c->Depth = box.depth;
  const auto src = std::tie(std::get<0>(in), std::get<1>(in), std::get<2>(in), std::get<3>(in),
                            std::get<4>(in), std::get<5>(in), std::get<6>(in));
  const auto dst = std::tie(std::get<7>(in), std::get<8>(in), std::get<9>(in), std::get<10>(in),
                            std::get<11>(in), std::get<12>(in), std::get<13>(in));
  if (CUresult r = Side(s, src, box, src_host, &c->srcMemoryType, &c->srcHost, &c->srcDevice, &c->srcArray,
                        &c->srcPitch, &c->srcHeight, &c->srcXInBytes, &c->srcY, &c->srcZ);
      r != CUDA_SUCCESS) {
    return r;
  }
  const void* dst_const = nullptr;
  if (CUresult r = Side(s, dst, box, dst_host, &c->dstMemoryType, &dst_const, &c->dstDevice, &c->dstArray,
                        &c->dstPitch, &c->dstHeight, &c->dstXInBytes, &c->dstY, &c->dstZ);
      r != CUDA_SUCCESS) {
    return r;
  }
  c->dstHost = const_cast<void*>(dst_const);
  // One side at least is an array (the linear-only copies have their own opcodes).
  if (c->srcMemoryType != CU_MEMORYTYPE_ARRAY && c->dstMemoryType != CU_MEMORYTYPE_ARRAY)
    return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

// Bytes of the packed host side, or false on overflow or an empty box.
bool PackedBytes(const Request& in, std::uint64_t* bytes) {
  return !__builtin_mul_overflow(std::get<14>(in), std::get<15>(in), bytes) &&
         !__builtin_mul_overflow(*bytes, std::get<16>(in), bytes);
}

CUresult Run(Session& s, const CUDA_MEMCPY3D& c, std::uint64_t stream_id, std::uint32_t async, bool wait) {
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (async == 0) return GPUPOOL_DRIVER(s, cuMemcpy3D_v2, &c);
  CUresult r = GPUPOOL_DRIVER(s, cuMemcpy3DAsync_v2, &c, stream);
  if (r != CUDA_SUCCESS || !wait) return r;
  return GPUPOOL_DRIVER(s, cuStreamSynchronize, stream);  // the bytes must be there to send them
}

}  // namespace

GPUPOOL_HANDLER(Memcpy3DToDevice) {
  const bool host_src = std::get<0>(in) == kHost;
  std::uint64_t bytes = 0;
  if (!PackedBytes(in, &bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (host_src ? tail.size() != bytes : !tail.empty()) return CUDA_ERROR_INVALID_VALUE;
  if (std::get<7>(in) == kHost) return CUDA_ERROR_INVALID_VALUE;  // device-to-host has its own opcode
  if (bytes == 0) return CUDA_SUCCESS;
  CUDA_MEMCPY3D c;
  void* src = host_src ? const_cast<char*>(tail.data()) : nullptr;
  if (CUresult r = Decode(s, in, src, nullptr, &c); r != CUDA_SUCCESS) return r;
  if (SessionGpu* gpu = host_src ? s.IssuingGpu() : nullptr) gpu->bytes_to_device += bytes;
  // A host source is the frame buffer the next request overwrites: the driver consumes a pageable
  // source before an asynchronous copy returns.
  return Run(s, c, std::get<17>(in), std::get<18>(in), false);
}

GPUPOOL_HANDLER(Memcpy3DFromDevice) {
  if (std::get<7>(in) != kHost || std::get<0>(in) == kHost) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t bytes = 0;
  if (!PackedBytes(in, &bytes) || bytes > protocol::kChunkSize) return CUDA_ERROR_INVALID_VALUE;
  if (bytes == 0) return CUDA_SUCCESS;
  if (s.staging.size() < bytes) s.staging.resize(bytes);
  CUDA_MEMCPY3D c;
  if (CUresult r = Decode(s, in, nullptr, s.staging.data(), &c); r != CUDA_SUCCESS) return r;
  if (CUresult r = Run(s, c, std::get<17>(in), std::get<18>(in), true); r != CUDA_SUCCESS) return r;
  if (SessionGpu* gpu = s.IssuingGpu()) gpu->bytes_from_device += bytes;
  s.reply_tail = std::string_view(s.staging.data(), bytes);
  return CUDA_SUCCESS;
}

}  // namespace gpupool::server
