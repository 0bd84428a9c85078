// 2D and 3D copies (cuMemcpy2D, cuMemcpy2DUnaligned, cuMemcpy2DAsync, cuMemcpy3D, cuMemcpy3DAsync and
// per-thread variants). The host side is packed (pitch = width) on the client and travels as the
// frame's tail, in pieces of at most one chunk: whole rows when a row fits, column slices of single
// rows otherwise. A 3D copy of linear memory is a 2D copy per slice (one 2D copy when the slices are
// contiguous on both sides): slice z starts at row (z * height + y) of the same pitch. Copies with a
// CUDA array on either side take the array path (api_copy_array.cpp).
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "remoting/client/api_support.h"
#include "remoting/client/copy_array.h"
#include "remoting/client/copy_async.h"
#include "remoting/client/copy_engine.h"

using namespace gpupool::client;

namespace {

constexpr std::uint32_t kHost = 1;
constexpr std::uint32_t kDevice = 2;

struct Side {
  bool host = false;
  char* host_base = nullptr;  // host: the buffer at (0, 0)
  CUdeviceptr device = 0;
  std::size_t pitch = 0, x = 0, y = 0;
};

CUresult Resolve(CUmemorytype type, const void* host, CUdeviceptr device, std::size_t pitch, std::size_t x,
                 std::size_t y, Side* side) {
  if (type == CU_MEMORYTYPE_UNIFIED) {
    type = State::Get().FindAllocation(device, nullptr, nullptr) ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
    host = reinterpret_cast<const void*>(device);
  }
  if (type != CU_MEMORYTYPE_HOST && type != CU_MEMORYTYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  side->host = type == CU_MEMORYTYPE_HOST;
  side->host_base = const_cast<char*>(static_cast<const char*>(host));
  side->device = device;
  side->pitch = pitch;
  side->x = x;
  side->y = y;
  if (side->host && side->host_base == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

char* HostAt(const Side& s, std::size_t row, std::size_t col) {
  return s.host_base + (s.y + row) * s.pitch + s.x + col;
}

CUresult Piece(std::uint64_t context, const Side& src, const Side& dst, std::size_t row, std::size_t rows,
               std::size_t col, std::size_t cols, std::uint64_t stream, std::uint32_t async,
               std::vector<char>& buf) {
  buf.resize(rows * cols);
  if (src.host) {
    for (std::size_t r = 0; r < rows; ++r)
      std::memcpy(buf.data() + r * cols, HostAt(src, row + r, col), cols);
    iovec tail{buf.data(), buf.size()};
    return Rpc<Op::Memcpy2DToDevice>(context,
                                     {kHost, 0, cols, 0, 0, kDevice, dst.device, dst.pitch, dst.x + col,
                                      dst.y + row, cols, rows, stream, async},
                                     nullptr, Tail{&tail, 1});
  }
  Pending pending;
  pending.tail = buf.data();
  pending.tail_size = buf.size();
  GPUPOOL_CU_RETURN_IF_ERROR(
      Begin<Op::Memcpy2DFromDevice>(context,
                                    {kDevice, src.device, src.pitch, src.x + col, src.y + row, kHost, 0, cols,
                                     0, 0, cols, rows, stream, async},
                                    &pending));
  GPUPOOL_CU_RETURN_IF_ERROR(Finish<Op::Memcpy2DFromDevice>(&pending, nullptr));
  for (std::size_t r = 0; r < rows; ++r) std::memcpy(HostAt(dst, row + r, col), buf.data() + r * cols, cols);
  return CUDA_SUCCESS;
}

// Sends a resolved 2D copy (one side on the device) on wire stream `stream`.
CUresult CopyOn(std::uint64_t context, const Side& src, const Side& dst, std::size_t width,
                std::size_t height, std::uint64_t stream, bool async) {
  const std::uint32_t async_flag = async ? 1 : 0;
  if (!src.host && !dst.host) {
    return Rpc<Op::Memcpy2DToDevice>(
        context, {kDevice, src.device, src.pitch, src.x, src.y, kDevice, dst.device, dst.pitch, dst.x, dst.y,
                  width, height, stream, async_flag});
  }
  const Side& host = src.host ? src : dst;
  if (width != 0 && height != 0)
    GPUPOOL_CU_RETURN_IF_ERROR(
        FinishDeferredCopiesInto(HostAt(host, 0, 0), (height - 1) * host.pitch + width));
  std::vector<char> buf;
  const std::size_t chunk = protocol::kChunkSize;
  if (width <= chunk) {
    const std::size_t rows_per_piece = chunk / width;
    for (std::size_t row = 0; row < height; row += rows_per_piece) {
      const std::size_t rows = std::min(rows_per_piece, height - row);
      GPUPOOL_CU_RETURN_IF_ERROR(Piece(context, src, dst, row, rows, 0, width, stream, async_flag, buf));
    }
    return CUDA_SUCCESS;
  }
  for (std::size_t row = 0; row < height; ++row) {
    for (std::size_t col = 0; col < width; col += chunk) {
      GPUPOOL_CU_RETURN_IF_ERROR(
          Piece(context, src, dst, row, 1, col, std::min(chunk, width - col), stream, async_flag, buf));
    }
  }
  return CUDA_SUCCESS;
}

// A 2D copy as a 3D copy of one slice (for the array path).
CUDA_MEMCPY3D As3D(const CUDA_MEMCPY2D& c) {
  CUDA_MEMCPY3D d{};
  d.srcXInBytes = c.srcXInBytes;
  d.srcY = c.srcY;
  d.srcMemoryType = c.srcMemoryType;
  d.srcHost = c.srcHost;
  d.srcDevice = c.srcDevice;
  d.srcArray = c.srcArray;
  d.srcPitch = c.srcPitch;
  d.srcHeight = c.srcY + c.Height;
  d.dstXInBytes = c.dstXInBytes;
  d.dstY = c.dstY;
  d.dstMemoryType = c.dstMemoryType;
  d.dstHost = c.dstHost;
  d.dstDevice = c.dstDevice;
  d.dstArray = c.dstArray;
  d.dstPitch = c.dstPitch;
  d.dstHeight = c.dstY + c.Height;
  d.WidthInBytes = c.WidthInBytes;
  d.Height = c.Height;
  d.Depth = 1;
  return d;
}

CUresult Copy2D(const CUDA_MEMCPY2D* copy, CUstream stream, bool per_thread, bool async,
                bool at_call = false) {
  if (copy == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (copy->srcMemoryType == CU_MEMORYTYPE_ARRAY || copy->dstMemoryType == CU_MEMORYTYPE_ARRAY)
    return CopyWithArray(As3D(*copy), stream, per_thread, async, at_call);
  std::uint64_t context = 0, stream_id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &stream_id));
  const std::size_t width = copy->WidthInBytes, height = copy->Height;
  if (width == 0 || height == 0) return CUDA_SUCCESS;
  if (copy->srcPitch < width + copy->srcXInBytes && height > 1) return CUDA_ERROR_INVALID_VALUE;
  if (copy->dstPitch < width + copy->dstXInBytes && height > 1) return CUDA_ERROR_INVALID_VALUE;
  Side src, dst;
  GPUPOOL_CU_RETURN_IF_ERROR(Resolve(copy->srcMemoryType, copy->srcHost, copy->srcDevice, copy->srcPitch,
                                     copy->srcXInBytes, copy->srcY, &src));
  GPUPOOL_CU_RETURN_IF_ERROR(Resolve(copy->dstMemoryType, copy->dstHost, copy->dstDevice, copy->dstPitch,
                                     copy->dstXInBytes, copy->dstY, &dst));
  if (src.host && dst.host) {
    for (std::size_t r = 0; r < height; ++r) std::memmove(HostAt(dst, r, 0), HostAt(src, r, 0), width);
    return CUDA_SUCCESS;
  }
  if (!async) {
    GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());  // it synchronises: never during a capture (capture.h)
    GPUPOOL_CU_RETURN_IF_ERROR(BeforeSynchronousCopy(context, stream_id));
    return CopyOn(context, src, dst, width, height, stream_id, false);
  }
  // Asynchronous: in stream order (captured as a graph node, or queued behind a host function).
  if (src.host && ReadSourceAtCall(stream, HostAt(src, 0, 0), at_call)) {
    auto snapshot = std::make_shared<std::vector<char>>(width * height);
    for (std::size_t r = 0; r < height; ++r)
      std::memcpy(snapshot->data() + r * width, HostAt(src, r, 0), width);
    src.host_base = snapshot->data();
    src.pitch = width;
    src.x = src.y = 0;
    return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, stream_id, [=](std::uint64_t on) {
      (void)snapshot;  // kept alive until the copy is sent
      return CopyOn(context, src, dst, width, height, on, true);
    });
  }
  return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, stream_id,
                  [=](std::uint64_t on) { return CopyOn(context, src, dst, width, height, on, true); });
}

// Row of slice `z` (0-based from the copy's first slice) in a linear 3D volume, for a 2D copy.
std::size_t SliceRow(std::size_t z0, std::size_t z, std::size_t slice_height, std::size_t y) {
  return (z0 + z) * slice_height + y;
}

CUresult Copy3D(const CUDA_MEMCPY3D* copy, CUstream stream, bool per_thread, bool async,
                bool at_call = false) {
  if (copy == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (copy->srcMemoryType == CU_MEMORYTYPE_ARRAY || copy->dstMemoryType == CU_MEMORYTYPE_ARRAY)
    return CopyWithArray(*copy, stream, per_thread, async, at_call);
  if (copy->srcLOD != 0 || copy->dstLOD != 0) return CUDA_ERROR_INVALID_VALUE;  // arrays only
  const std::size_t depth = copy->Depth, height = copy->Height;
  if (copy->WidthInBytes == 0 || height == 0 || depth == 0) return CUDA_SUCCESS;
  // Beyond the first slice, each side's slice height must hold the copied rows.
  const bool slices = depth > 1 || copy->srcZ != 0 || copy->dstZ != 0;
  if (slices && (copy->srcHeight < copy->srcY + height || copy->dstHeight < copy->dstY + height))
    return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEMCPY2D plane{};
  plane.srcXInBytes = copy->srcXInBytes;
  plane.srcMemoryType = copy->srcMemoryType;
  plane.srcHost = copy->srcHost;
  plane.srcDevice = copy->srcDevice;
  plane.srcPitch = copy->srcPitch;
  plane.dstXInBytes = copy->dstXInBytes;
  plane.dstMemoryType = copy->dstMemoryType;
  plane.dstHost = copy->dstHost;
  plane.dstDevice = copy->dstDevice;
  plane.dstPitch = copy->dstPitch;
  plane.WidthInBytes = copy->WidthInBytes;
  // Whole slices on both sides follow each other row after row: one 2D copy of every row.
  const bool contiguous = !slices || (copy->srcY == 0 && copy->dstY == 0 && copy->srcHeight == height &&
                                      copy->dstHeight == height);
  const std::size_t planes = contiguous ? 1 : depth;
  plane.Height = contiguous ? height * depth : height;
  for (std::size_t z = 0; z < planes; ++z) {
    plane.srcY = slices ? SliceRow(copy->srcZ, z, copy->srcHeight, copy->srcY) : copy->srcY;
    plane.dstY = slices ? SliceRow(copy->dstZ, z, copy->dstHeight, copy->dstY) : copy->dstY;
    GPUPOOL_CU_RETURN_IF_ERROR(Copy2D(&plane, stream, per_thread, async, at_call));
  }
  return CUDA_SUCCESS;
}

}  // namespace

CUresult gpupool::client::Memcpy3DAsync(const CUDA_MEMCPY3D& copy, CUstream stream, bool per_thread,
                                        bool at_call) {
  return Copy3D(&copy, stream, per_thread, true, at_call);
}

GPUPOOL_API CUresult cuMemcpy3D(const CUDA_MEMCPY3D* copy) {
  return Copy3D(copy, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D* copy) {
  return Copy3D(copy, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpy3DAsync(const CUDA_MEMCPY3D* copy, CUstream stream) {
  return Copy3D(copy, stream, false, true);
}
GPUPOOL_API CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D* copy, CUstream stream) {
  return Copy3D(copy, stream, true, true);
}

GPUPOOL_API CUresult cuMemcpy2D(const CUDA_MEMCPY2D* copy) {
  return Copy2D(copy, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D* copy) {
  return Copy2D(copy, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpy2DUnaligned(const CUDA_MEMCPY2D* copy) {
  return Copy2D(copy, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D* copy) {
  return Copy2D(copy, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpy2DAsync(const CUDA_MEMCPY2D* copy, CUstream stream) {
  return Copy2D(copy, stream, false, true);
}
GPUPOOL_API CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D* copy, CUstream stream) {
  return Copy2D(copy, stream, true, true);
}
