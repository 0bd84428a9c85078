// Copies (1D, 2D, 3D with linear memory or CUDA arrays, peer, unified) and memsets. Every device-side range
// is checked against one live allocation (or adjacent mappings of one reservation, which must let the
// current context's device read a source and write a destination) before a byte moves: a copy past an
// allocation's end or into memory without access is CUDA_ERROR_INVALID_VALUE, never a host read or
// write out of bounds. Host sides are the caller's memory.
// Bytes move at enqueue time; in stream order a copy takes no time (timeline.h), and the synchronous variants
// return once the legacy default stream's earlier work (simulated kernels) is done, as in CUDA.
#include <cstring>

#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/device_printf.h"
#include "remoting/server/emulated/timeline.h"

namespace gpupool::server::emulated {
namespace {

// What a side of a copy needs of mapped memory's access rights (state.h ResolveDevice).
constexpr unsigned long long kRead = CU_MEM_ACCESS_FLAGS_PROT_READ;
constexpr unsigned long long kWrite = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;

// Resolves a device range to be read or written (`need`); 0 bytes resolve to nothing and succeed.
CUresult Device(CUdeviceptr p, std::size_t bytes, unsigned long long need, std::byte** out) {
  *out = nullptr;
  if (bytes == 0) return CUDA_SUCCESS;
  *out = ResolveDevice(p, bytes, need);
  return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// A unified-addressing pointer: device memory when it lies in a device's range or the reservation
// window, else host memory.
CUresult Unified(CUdeviceptr p, std::size_t bytes, unsigned long long need, std::byte** out) {
  if (IsDeviceAddress(p)) return Device(p, bytes, need, out);
  *out = reinterpret_cast<std::byte*>(p);
  return p == 0 && bytes > 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

CUresult Move(std::byte* dst, const std::byte* src, std::size_t bytes) {
  if (bytes > 0) std::memmove(dst, src, bytes);
  return CUDA_SUCCESS;
}

#define GPUPOOL_COPY_PROLOGUE(stream)                                \
  GPUPOOL_CURRENT_CONTEXT(ctx);                                      \
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r; \
  Enqueue(ctx, stream, 0, /*kernel=*/false)

#define GPUPOOL_TRY(expr)                                    \
  do {                                                       \
    if (CUresult r_ = (expr); r_ != CUDA_SUCCESS) return r_; \
  } while (0)

CUresult HtoD(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream) {
  GPUPOOL_COPY_PROLOGUE(stream);
  std::byte* d = nullptr;
  GPUPOOL_TRY(Device(dst, bytes, kWrite, &d));
  if (bytes > 0 && src == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Move(d, static_cast<const std::byte*>(src), bytes);
}

CUresult DtoH(void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  GPUPOOL_COPY_PROLOGUE(stream);
  std::byte* s = nullptr;
  GPUPOOL_TRY(Device(src, bytes, kRead, &s));
  if (bytes > 0 && dst == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Move(static_cast<std::byte*>(dst), s, bytes);
}

CUresult DtoD(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  GPUPOOL_COPY_PROLOGUE(stream);
  std::byte *d = nullptr, *s = nullptr;
  GPUPOOL_TRY(Device(dst, bytes, kWrite, &d));
  GPUPOOL_TRY(Device(src, bytes, kRead, &s));
  return Move(d, s, bytes);
}

CUresult AnyToAny(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  GPUPOOL_COPY_PROLOGUE(stream);
  std::byte *d = nullptr, *s = nullptr;
  GPUPOOL_TRY(Unified(dst, bytes, kWrite, &d));
  GPUPOOL_TRY(Unified(src, bytes, kRead, &s));
  return Move(d, s, bytes);
}

CUresult Peer(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t bytes,
              CUstream stream) {
  {
    GPUPOOL_EMULATED_LOCK();
    const auto& live = GetState().contexts;
    if (!live.count(reinterpret_cast<Context*>(dst_ctx)) ||
        !live.count(reinterpret_cast<Context*>(src_ctx))) {
      return CUDA_ERROR_INVALID_CONTEXT;
    }
  }
  return DtoD(dst, src, bytes, stream);
}

// One side of a 2D/3D copy, reduced to a base pointer and pitches.
struct Side {
  std::byte* base = nullptr;
  std::size_t pitch = 0, slice = 0;
};

// Checks and resolves one side: the span from the first to the last byte touched must lie in one
// allocation (device) or be non-null (host).
// An array side: the box must lie inside the array's extent (its packed rows, api_array.cpp).
CUresult ResolveArray(CUarray handle, std::size_t x, std::size_t y, std::size_t z, std::size_t width,
                      std::size_t rows, std::size_t depth, Side* side) {
  const Array* array = LookupArray(handle);
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const protocol::ArrayExtent& e = array->extent;
  if (!protocol::ArrayBoxInside(e, x, y, z, width, rows, depth)) return CUDA_ERROR_INVALID_VALUE;
  // The driver moves whole elements of an array: x and the width must be multiples of one.
  const std::size_t element = e.row_bytes / array->desc.Width;
  if (x % element != 0 || width % element != 0) return CUDA_ERROR_INVALID_VALUE;
  side->pitch = e.row_bytes;
  side->slice = e.row_bytes * e.rows;
  std::byte* base = ResolveDevice(array->memory, side->slice * e.slices);
  if (base == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  side->base = base + z * side->slice + y * side->pitch + x;
  return CUDA_SUCCESS;
}

CUresult ResolveSide(CUmemorytype type, const void* host, CUdeviceptr device, CUarray array, std::size_t x,
                     std::size_t y, std::size_t z, std::size_t pitch, std::size_t height, std::size_t width,
                     std::size_t rows, std::size_t depth, unsigned long long need, Side* side) {
  if (type == CU_MEMORYTYPE_ARRAY) return ResolveArray(array, x, y, z, width, rows, depth, side);
  if ((rows > 1 || depth > 1) && x + width > pitch) return CUDA_ERROR_INVALID_VALUE;
  if (depth > 1 && y + rows > height) return CUDA_ERROR_INVALID_VALUE;
  std::size_t slice = 0, start = 0, extent = 0, t = 0;
  if (__builtin_mul_overflow(pitch, height, &slice)) return CUDA_ERROR_INVALID_VALUE;
  if (__builtin_mul_overflow(z, slice, &start) || __builtin_mul_overflow(y, pitch, &t) ||
      __builtin_add_overflow(start, t, &start) || __builtin_add_overflow(start, x, &start)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (__builtin_mul_overflow(depth - 1, slice, &extent) || __builtin_mul_overflow(rows - 1, pitch, &t) ||
      __builtin_add_overflow(extent, t, &extent) || __builtin_add_overflow(extent, width, &extent)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  side->pitch = pitch;
  side->slice = slice;
  if (type == CU_MEMORYTYPE_HOST) {
    if (host == nullptr) return CUDA_ERROR_INVALID_VALUE;
    side->base = static_cast<std::byte*>(const_cast<void*>(host)) + start;
    return CUDA_SUCCESS;
  }
  if (type != CU_MEMORYTYPE_DEVICE && type != CU_MEMORYTYPE_UNIFIED) return CUDA_ERROR_INVALID_VALUE;
  if (device > UINT64_MAX - start) return CUDA_ERROR_INVALID_VALUE;
  return type == CU_MEMORYTYPE_DEVICE ? Device(device + start, extent, need, &side->base)
                                      : Unified(device + start, extent, need, &side->base);
}

CUresult Copy3D(const CUDA_MEMCPY3D* c, CUstream stream) {
  GPUPOOL_COPY_PROLOGUE(stream);
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (c->WidthInBytes == 0 || c->Height == 0 || c->Depth == 0) return CUDA_SUCCESS;
  Side src, dst;
  GPUPOOL_TRY(ResolveSide(c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, c->srcXInBytes, c->srcY,
                          c->srcZ, c->srcPitch, c->srcHeight, c->WidthInBytes, c->Height, c->Depth, kRead,
                          &src));
  GPUPOOL_TRY(ResolveSide(c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, c->dstXInBytes, c->dstY,
                          c->dstZ, c->dstPitch, c->dstHeight, c->WidthInBytes, c->Height, c->Depth, kWrite,
                          &dst));
  for (std::size_t z = 0; z < c->Depth; ++z) {
    for (std::size_t y = 0; y < c->Height; ++y) {
      std::memmove(dst.base + z * dst.slice + y * dst.pitch, src.base + z * src.slice + y * src.pitch,
                   c->WidthInBytes);
    }
  }
  return CUDA_SUCCESS;
}

CUresult Copy2D(const CUDA_MEMCPY2D* c, CUstream stream) {
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEMCPY3D d{};
  d.srcXInBytes = c->srcXInBytes;
  d.srcY = c->srcY;
  d.srcMemoryType = c->srcMemoryType;
  d.srcHost = c->srcHost;
  d.srcDevice = c->srcDevice;
  d.srcArray = c->srcArray;
  d.srcPitch = c->srcPitch;
  d.srcHeight = c->srcY + c->Height;
  d.dstXInBytes = c->dstXInBytes;
  d.dstY = c->dstY;
  d.dstMemoryType = c->dstMemoryType;
  d.dstHost = c->dstHost;
  d.dstDevice = c->dstDevice;
  d.dstArray = c->dstArray;
  d.dstPitch = c->dstPitch;
  d.dstHeight = c->dstY + c->Height;
  d.WidthInBytes = c->WidthInBytes;
  d.Height = c->Height;
  d.Depth = 1;
  return Copy3D(&d, stream);
}

// Memsets: `width` elements of `element` bytes in each of `height` rows `pitch` bytes apart.
CUresult Memset(CUdeviceptr dst, std::size_t pitch, std::uint32_t value, std::size_t element,
                std::size_t width, std::size_t height, CUstream stream) {
  GPUPOOL_COPY_PROLOGUE(stream);
  if (width == 0 || height == 0) return CUDA_SUCCESS;
  if (dst % element != 0 || (height > 1 && pitch % element != 0)) return CUDA_ERROR_INVALID_VALUE;
  std::size_t row = 0, extent = 0;
  if (__builtin_mul_overflow(width, element, &row)) return CUDA_ERROR_INVALID_VALUE;
  if (height > 1 && row > pitch) return CUDA_ERROR_INVALID_VALUE;
  if (__builtin_mul_overflow(height - 1, pitch, &extent) || __builtin_add_overflow(extent, row, &extent)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::byte* base = nullptr;
  GPUPOOL_TRY(Device(dst, extent, kWrite, &base));
  for (std::size_t y = 0; y < height; ++y) {
    std::byte* p = base + y * pitch;
    if (element == 1) {
      std::memset(p, static_cast<int>(value & 0xff), width);
    } else {
      for (std::size_t i = 0; i < width; ++i) std::memcpy(p + i * element, &value, element);
    }
  }
  return CUDA_SUCCESS;
}

// A synchronous copy returns once it is done: after the legacy stream's earlier work.
CUresult Synchronous(CUresult r) {
  if (r != CUDA_SUCCESS) return r;
  std::uint64_t done = 0;
  {
    GPUPOOL_CURRENT_CONTEXT(ctx);
    done = StreamDoneNs(ctx, nullptr);
    FlushPrintf(ctx);
  }
  SleepUntilNs(done);
  return CUDA_SUCCESS;
}

CUresult MemcpyHtoD(CUdeviceptr d, const void* s, size_t n) {
  return Synchronous(HtoD(d, s, n, nullptr));
}
CUresult MemcpyDtoH(void* d, CUdeviceptr s, size_t n) {
  return Synchronous(DtoH(d, s, n, nullptr));
}
CUresult MemcpyDtoD(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return Synchronous(DtoD(d, s, n, nullptr));
}
CUresult Memcpy(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return Synchronous(AnyToAny(d, s, n, nullptr));
}
CUresult MemcpyPeer(CUdeviceptr d, CUcontext dc, CUdeviceptr s, CUcontext sc, size_t n) {
  return Synchronous(Peer(d, dc, s, sc, n, nullptr));
}
CUresult Memcpy2D(const CUDA_MEMCPY2D* c) {
  return Synchronous(Copy2D(c, nullptr));
}
CUresult Memcpy3D(const CUDA_MEMCPY3D* c) {
  return Synchronous(Copy3D(c, nullptr));
}
CUresult D8(CUdeviceptr d, unsigned char v, size_t n) {
  return Memset(d, 0, v, 1, n, 1, nullptr);
}
CUresult D16(CUdeviceptr d, unsigned short v, size_t n) {
  return Memset(d, 0, v, 2, n, 1, nullptr);
}
CUresult D32(CUdeviceptr d, unsigned v, size_t n) {
  return Memset(d, 0, v, 4, n, 1, nullptr);
}
CUresult D2D8(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t h) {
  return Memset(d, p, v, 1, w, h, nullptr);
}
CUresult D2D16(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t h) {
  return Memset(d, p, v, 2, w, h, nullptr);
}
CUresult D2D32(CUdeviceptr d, size_t p, unsigned v, size_t w, size_t h) {
  return Memset(d, p, v, 4, w, h, nullptr);
}
CUresult D8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
  return Memset(d, 0, v, 1, n, 1, s);
}
CUresult D16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) {
  return Memset(d, 0, v, 2, n, 1, s);
}
CUresult D32Async(CUdeviceptr d, unsigned v, size_t n, CUstream s) {
  return Memset(d, 0, v, 4, n, 1, s);
}
CUresult D2D8Async(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t h, CUstream s) {
  return Memset(d, p, v, 1, w, h, s);
}
CUresult D2D16Async(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t h, CUstream s) {
  return Memset(d, p, v, 2, w, h, s);
}
CUresult D2D32Async(CUdeviceptr d, size_t p, unsigned v, size_t w, size_t h, CUstream s) {
  return Memset(d, p, v, 4, w, h, s);
}

// cuStreamWriteValue32/64: a stream-ordered store of one aligned word, made at enqueue like every
// data effect here.
template <typename Word>
CUresult WriteValue(CUstream stream, CUdeviceptr address, Word value, unsigned flags) {
  GPUPOOL_COPY_PROLOGUE(stream);
  if ((flags & ~static_cast<unsigned>(CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER)) != 0 ||
      address % sizeof(Word) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  std::byte* d = nullptr;
  GPUPOOL_TRY(Device(address, sizeof(Word), kWrite, &d));
  return Move(d, reinterpret_cast<const std::byte*>(&value), sizeof(Word));
}

CUresult WriteValue32(CUstream stream, CUdeviceptr address, cuuint32_t value, unsigned flags) {
  return WriteValue(stream, address, value, flags);
}
CUresult WriteValue64(CUstream stream, CUdeviceptr address, cuuint64_t value, unsigned flags) {
  return WriteValue(stream, address, value, flags);
}

}  // namespace

void FillCopyApi(DriverApi& api) {
  api.cuMemcpy = Memcpy;
  api.cuMemcpyAsync = AnyToAny;
  api.cuMemcpyHtoD_v2 = MemcpyHtoD;
  api.cuMemcpyDtoH_v2 = MemcpyDtoH;
  api.cuMemcpyDtoD_v2 = MemcpyDtoD;
  api.cuMemcpyHtoDAsync_v2 = HtoD;
  api.cuMemcpyDtoHAsync_v2 = DtoH;
  api.cuMemcpyDtoDAsync_v2 = DtoD;
  api.cuMemcpy2D_v2 = Memcpy2D;
  api.cuMemcpy2DUnaligned_v2 = Memcpy2D;
  api.cuMemcpy2DAsync_v2 = Copy2D;
  api.cuMemcpy3D_v2 = Memcpy3D;
  api.cuMemcpy3DAsync_v2 = Copy3D;
  api.cuMemcpyPeer = MemcpyPeer;
  api.cuMemcpyPeerAsync = Peer;
  api.cuMemsetD8_v2 = D8;
  api.cuMemsetD16_v2 = D16;
  api.cuMemsetD32_v2 = D32;
  api.cuMemsetD2D8_v2 = D2D8;
  api.cuMemsetD2D16_v2 = D2D16;
  api.cuMemsetD2D32_v2 = D2D32;
  api.cuMemsetD8Async = D8Async;
  api.cuMemsetD16Async = D16Async;
  api.cuMemsetD32Async = D32Async;
  api.cuMemsetD2D8Async = D2D8Async;
  api.cuMemsetD2D16Async = D2D16Async;
  api.cuMemsetD2D32Async = D2D32Async;
  api.cuStreamWriteValue32_v2 = WriteValue32;
  api.cuStreamWriteValue64_v2 = WriteValue64;
}

}  // namespace gpupool::server::emulated
