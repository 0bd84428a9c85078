// Copies with a CUDA array on either side: cuMemcpy2D/3D (and their async, unaligned and per-thread
// variants) when a side is CU_MEMORYTYPE_ARRAY, and the 1D array copies cuMemcpyHtoA, AtoH, DtoA,
// AtoD, AtoA (+Async). Every array side is checked against the array's extent here and again by the
// server. Host data travels packed in chunks (whole slices, whole rows, or pieces of one row), like
// the linear 2D copies (api_copy_2d.cpp); asynchronous copies go through the stream order (SubmitOp).
// A 1D copy addresses an array's bytes row after row, slice after slice, and is sent as the 2D
// pieces that makes: a partial row, whole rows, a partial row.
#include <algorithm>
#include <cstring>
#include <memory>
#include <tuple>
#include <vector>

#include "remoting/client/api_support.h"
#include "remoting/client/arrays.h"
#include "remoting/client/copy_array.h"

namespace gpupool::client {
namespace {

constexpr std::uint32_t kHost = 1, kDevice = 2, kArray = 3;  // memory types of the copy fields

struct Box {
  std::uint64_t width = 0, height = 0, depth = 0;  // bytes, rows, slices
};
struct Origin {
  std::uint64_t col = 0, row = 0, slice = 0;  // a piece's place inside the copy's box
};

// One side of a copy, resolved: its type, where the box starts, and a linear side's pitches.
struct End {
  std::uint32_t type = kHost;
  char* host = nullptr;      // a host side's buffer at (0, 0, 0)
  std::uint64_t handle = 0;  // device address or array id
  std::uint64_t pitch = 0, rows = 0, x = 0, y = 0, z = 0;
};

CUresult Resolve(CUmemorytype type, const void* host, CUdeviceptr device, CUarray array, std::size_t pitch,
                 std::size_t rows, std::size_t x, std::size_t y, std::size_t z, const Box& box, End* end) {
  if (type == CU_MEMORYTYPE_UNIFIED) {
    type = State::Get().FindAllocation(device, nullptr, nullptr) ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
    host = reinterpret_cast<const void*>(device);
  }
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedCopySide(&type, host, &device));
  *end = End{};
  end->x = x;
  end->y = y;
  end->z = z;
  if (type == CU_MEMORYTYPE_ARRAY) {
    const Array* a = ArrayTable::Get().arrays.Find(array);
    if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (!protocol::ArrayBoxInside(a->extent, x, y, z, box.width, box.height, box.depth))
      return CUDA_ERROR_INVALID_VALUE;
    end->type = kArray;
    end->handle = a->id;
    return CUDA_SUCCESS;
  }
  if (type != CU_MEMORYTYPE_HOST && type != CU_MEMORYTYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  if ((box.height > 1 || box.depth > 1) && (x > pitch || box.width > pitch - x))
    return CUDA_ERROR_INVALID_VALUE;
  if (box.depth > 1 && (y > rows || box.height > rows - y)) return CUDA_ERROR_INVALID_VALUE;
  end->pitch = pitch;
  end->rows = rows;
  if (type == CU_MEMORYTYPE_DEVICE) {
    end->type = kDevice;
    end->handle = device;
    return CUDA_SUCCESS;
  }
  if (host == nullptr) return CUDA_ERROR_INVALID_VALUE;
  end->host = const_cast<char*>(static_cast<const char*>(host));
  return CUDA_SUCCESS;
}

char* HostAt(const End& e, std::uint64_t slice, std::uint64_t row, std::uint64_t col) {
  return e.host + ((e.z + slice) * e.rows + e.y + row) * e.pitch + e.x + col;
}

// Moves the rows of box `n` at `o` between host side `e` and `packed` (rows of n.width bytes).
void Pack(const End& e, Origin o, const Box& n, char* packed) {
  for (std::uint64_t z = 0; z < n.depth; ++z) {
    for (std::uint64_t r = 0; r < n.height; ++r)
      std::memcpy(packed + (z * n.height + r) * n.width, HostAt(e, o.slice + z, o.row + r, o.col), n.width);
  }
}
void Unpack(const char* packed, Origin o, const Box& n, const End& e) {
  for (std::uint64_t z = 0; z < n.depth; ++z) {
    for (std::uint64_t r = 0; r < n.height; ++r)
      std::memcpy(HostAt(e, o.slice + z, o.row + r, o.col), packed + (z * n.height + r) * n.width, n.width);
  }
}

// A side's wire fields for the piece at `o`; a host side travels packed, its fields zero.
std::tuple<std::uint32_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
           std::uint64_t>
Wire(const End& e, Origin o) {
  if (e.type == kHost) return {kHost, 0, 0, 0, 0, 0, 0};
  return {e.type, e.handle, e.pitch, e.rows, e.x + o.col, e.y + o.row, e.z + o.slice};
}

CUresult Piece(std::uint64_t context, const End& src, const End& dst, Origin o, const Box& n,
               std::uint64_t stream, std::uint32_t async, std::vector<char>& buf) {
  const auto request =
      std::tuple_cat(Wire(src, o), Wire(dst, o), std::make_tuple(n.width, n.height, n.depth, stream, async));
  if (src.type != kHost && dst.type != kHost) return Rpc<Op::Memcpy3DToDevice>(context, request);
  buf.resize(n.width * n.height * n.depth);
  if (src.type == kHost) {
    Pack(src, o, n, buf.data());
    iovec tail{buf.data(), buf.size()};
    return Rpc<Op::Memcpy3DToDevice>(context, request, nullptr, Tail{&tail, 1});
  }
  Pending pending;
  pending.tail = buf.data();
  pending.tail_size = buf.size();
  GPUPOOL_CU_RETURN_IF_ERROR(Begin<Op::Memcpy3DFromDevice>(context, request, &pending));
  GPUPOOL_CU_RETURN_IF_ERROR(Finish<Op::Memcpy3DFromDevice>(&pending, nullptr));
  Unpack(buf.data(), o, n, dst);
  return CUDA_SUCCESS;
}

// Sends a resolved copy on wire stream `stream`, host data in pieces of at most one chunk.
CUresult CopyOn(std::uint64_t context, const End& src, const End& dst, const Box& box, std::uint64_t stream,
                bool async) {
  const std::uint32_t flag = async ? 1 : 0;
  std::vector<char> buf;
  if (src.type != kHost && dst.type != kHost) return Piece(context, src, dst, {}, box, stream, flag, buf);
  const End& host = src.type == kHost ? src : dst;
  if (box.width != 0 && box.height != 0 && box.depth != 0) {
    GPUPOOL_CU_RETURN_IF_ERROR(FinishDeferredCopiesInto(
        HostAt(host, 0, 0, 0), ((box.depth - 1) * host.rows + box.height - 1) * host.pitch + box.width));
  }
  const std::uint64_t chunk = protocol::kChunkSize, plane = box.width * box.height;
  if (plane <= chunk) {
    const std::uint64_t per = chunk / plane;
    for (std::uint64_t z = 0; z < box.depth; z += per) {
      GPUPOOL_CU_RETURN_IF_ERROR(Piece(context, src, dst, {0, 0, z},
                                       {box.width, box.height, std::min(per, box.depth - z)}, stream, flag,
                                       buf));
    }
    return CUDA_SUCCESS;
  }
  for (std::uint64_t z = 0; z < box.depth; ++z) {
    if (box.width <= chunk) {
      const std::uint64_t per = chunk / box.width;
      for (std::uint64_t row = 0; row < box.height; row += per) {
        GPUPOOL_CU_RETURN_IF_ERROR(Piece(context, src, dst, {0, row, z},
                                         {box.width, std::min(per, box.height - row), 1}, stream, flag, buf));
      }
      continue;
    }
    for (std::uint64_t row = 0; row < box.height; ++row) {
      for (std::uint64_t col = 0; col < box.width; col += chunk) {
        GPUPOOL_CU_RETURN_IF_ERROR(Piece(context, src, dst, {col, row, z},
                                         {std::min(chunk, box.width - col), 1, 1}, stream, flag, buf));
      }
    }
  }
  return CUDA_SUCCESS;
}

// One end of a 1D array copy: an array at a byte offset, or linear memory (host or device).
struct Linear {
  CUarray array = nullptr;
  CUmemorytype type = CU_MEMORYTYPE_HOST;
  const void* host = nullptr;
  CUdeviceptr device = 0;
  std::uint64_t offset = 0;
};

// Places `side` (its offset already advanced) in `copy` for a piece of `width` x `height`.
void PlaceLinear(const Linear& side, const Array* a, std::uint64_t width, std::uint64_t height, bool src,
                 CUDA_MEMCPY3D* c) {
  CUmemorytype type = side.type;
  std::uint64_t x = 0, y = 0, z = 0;
  if (a != nullptr) {
    type = CU_MEMORYTYPE_ARRAY;
    const std::uint64_t row = side.offset / a->extent.row_bytes;
    x = side.offset % a->extent.row_bytes;
    y = row % a->extent.rows;
    z = row / a->extent.rows;
  }
  const void* host = side.host != nullptr ? static_cast<const char*>(side.host) + side.offset : nullptr;
  const CUdeviceptr device = side.device + side.offset;
  if (src) {
    c->srcMemoryType = type;
    c->srcArray = side.array;
    c->srcHost = host;
    c->srcDevice = device;
    c->srcPitch = width;
    c->srcHeight = height;
    c->srcXInBytes = x;
    c->srcY = y;
    c->srcZ = z;
  } else {
    c->dstMemoryType = type;
    c->dstArray = side.array;
    c->dstHost = const_cast<void*>(host);
    c->dstDevice = device;
    c->dstPitch = width;
    c->dstHeight = height;
    c->dstXInBytes = x;
    c->dstY = y;
    c->dstZ = z;
  }
}

// Bytes from `offset` to the end of its row, and whether whole rows start there (x == 0), with the
// rows left in its slice.
struct RowRoom {
  std::uint64_t bytes = UINT64_MAX, rows_left = UINT64_MAX, row_bytes = 0;
  bool at_row_start = true;
};
RowRoom Room(const Array* a, std::uint64_t offset) {
  if (a == nullptr) return {};
  const protocol::ArrayExtent& e = a->extent;
  const std::uint64_t x = offset % e.row_bytes, y = (offset / e.row_bytes) % e.rows;
  return {e.row_bytes - x, e.rows - y, e.row_bytes, x == 0};
}

CUresult CopyLinear(Linear src, Linear dst, std::uint64_t count, CUstream stream, bool per_thread,
                    bool async) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  const Array* sa = src.array != nullptr ? ArrayTable::Get().arrays.Find(src.array) : nullptr;
  const Array* da = dst.array != nullptr ? ArrayTable::Get().arrays.Find(dst.array) : nullptr;
  if ((src.array != nullptr && sa == nullptr) || (dst.array != nullptr && da == nullptr))
    return CUDA_ERROR_INVALID_HANDLE;
  for (const auto& [a, offset] : {std::pair{sa, src.offset}, std::pair{da, dst.offset}}) {
    if (a == nullptr) continue;
    const std::uint64_t total = a->extent.row_bytes * a->extent.rows * a->extent.slices;
    if (offset > total || count > total - offset) return CUDA_ERROR_INVALID_VALUE;
  }
  while (count > 0) {
    const RowRoom s = Room(sa, src.offset), d = Room(da, dst.offset);
    std::uint64_t width = std::min({count, s.bytes, d.bytes}), height = 1;
    // Whole rows when every array side starts a row of the same length.
    const std::uint64_t row_bytes = std::max(s.row_bytes, d.row_bytes);
    if (s.at_row_start && d.at_row_start &&
        (s.row_bytes == 0 || d.row_bytes == 0 || s.row_bytes == d.row_bytes) && row_bytes != 0 &&
        count >= row_bytes) {
      width = row_bytes;
      height = std::min({count / row_bytes, s.rows_left, d.rows_left});
    }
    CUDA_MEMCPY3D c{};
    c.WidthInBytes = width;
    c.Height = height;
    c.Depth = 1;
    PlaceLinear(src, sa, width, height, true, &c);
    PlaceLinear(dst, da, width, height, false, &c);
    GPUPOOL_CU_RETURN_IF_ERROR(CopyWithArray(c, stream, per_thread, async));
    src.offset += width * height;
    dst.offset += width * height;
    count -= width * height;
  }
  return CUDA_SUCCESS;
}

Linear ArraySide(CUarray array, std::size_t offset) {
  Linear side;
  side.array = array;
  side.offset = offset;
  return side;
}
Linear HostSide(const void* host) {
  Linear side;
  side.host = host;
  return side;
}
Linear DeviceSide(CUdeviceptr device) {
  Linear side;
  side.type = CU_MEMORYTYPE_DEVICE;
  side.device = device;
  return side;
}

}  // namespace

CUresult CopyWithArray(const CUDA_MEMCPY3D& c, CUstream stream, bool per_thread, bool async, bool at_call) {
  std::uint64_t context = 0, stream_id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &stream_id));
  if (c.srcLOD != 0 || c.dstLOD != 0) return CUDA_ERROR_INVALID_VALUE;
  const Box box{c.WidthInBytes, c.Height, c.Depth};
  if (box.width == 0 || box.height == 0 || box.depth == 0) return CUDA_SUCCESS;
  End src, dst;
  GPUPOOL_CU_RETURN_IF_ERROR(Resolve(c.srcMemoryType, c.srcHost, c.srcDevice, c.srcArray, c.srcPitch,
                                     c.srcHeight, c.srcXInBytes, c.srcY, c.srcZ, box, &src));
  GPUPOOL_CU_RETURN_IF_ERROR(Resolve(c.dstMemoryType, c.dstHost, c.dstDevice, c.dstArray, c.dstPitch,
                                     c.dstHeight, c.dstXInBytes, c.dstY, c.dstZ, box, &dst));
  if (src.type != kArray && dst.type != kArray) return CUDA_ERROR_INVALID_VALUE;  // not an array copy
  if (!async) {
    GPUPOOL_CU_RETURN_IF_ERROR(BeforeSynchronousCopy(context, stream_id));
    return CopyOn(context, src, dst, box, stream_id, false);
  }
  if (src.type == kHost && ReadSourceAtCall(stream, HostAt(src, 0, 0, 0), at_call)) {
    auto snapshot = std::make_shared<std::vector<char>>(box.width * box.height * box.depth);
    Pack(src, {}, box, snapshot->data());
    src = End{kHost, snapshot->data(), 0, box.width, box.height, 0, 0, 0};
    return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, stream_id, [=](std::uint64_t on) {
      (void)snapshot;  // kept alive until the copy is sent
      return CopyOn(context, src, dst, box, on, true);
    });
  }
  return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, stream_id,
                  [=](std::uint64_t on) { return CopyOn(context, src, dst, box, on, true); });
}

}  // namespace gpupool::client

using namespace gpupool::client;

GPUPOOL_API CUresult cuMemcpyHtoA(CUarray dst, size_t offset, const void* src, size_t bytes) {
  return CopyLinear(HostSide(src), ArraySide(dst, offset), bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpyHtoA_v2_ptds(CUarray dst, size_t offset, const void* src, size_t bytes) {
  return CopyLinear(HostSide(src), ArraySide(dst, offset), bytes, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpyHtoAAsync(CUarray dst, size_t offset, const void* src, size_t bytes,
                                       CUstream s) {
  return CopyLinear(HostSide(src), ArraySide(dst, offset), bytes, s, false, true);
}
GPUPOOL_API CUresult cuMemcpyHtoAAsync_v2_ptsz(CUarray dst, size_t offset, const void* src, size_t bytes,
                                               CUstream s) {
  return CopyLinear(HostSide(src), ArraySide(dst, offset), bytes, s, true, true);
}
GPUPOOL_API CUresult cuMemcpyAtoH(void* dst, CUarray src, size_t offset, size_t bytes) {
  return CopyLinear(ArraySide(src, offset), HostSide(dst), bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpyAtoH_v2_ptds(void* dst, CUarray src, size_t offset, size_t bytes) {
  return CopyLinear(ArraySide(src, offset), HostSide(dst), bytes, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpyAtoHAsync(void* dst, CUarray src, size_t offset, size_t bytes, CUstream s) {
  return CopyLinear(ArraySide(src, offset), HostSide(dst), bytes, s, false, true);
}
GPUPOOL_API CUresult cuMemcpyAtoHAsync_v2_ptsz(void* dst, CUarray src, size_t offset, size_t bytes,
                                               CUstream s) {
  return CopyLinear(ArraySide(src, offset), HostSide(dst), bytes, s, true, true);
}
GPUPOOL_API CUresult cuMemcpyDtoA(CUarray dst, size_t offset, CUdeviceptr src, size_t bytes) {
  return CopyLinear(DeviceSide(src), ArraySide(dst, offset), bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpyDtoA_v2_ptds(CUarray dst, size_t offset, CUdeviceptr src, size_t bytes) {
  return CopyLinear(DeviceSide(src), ArraySide(dst, offset), bytes, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpyAtoD(CUdeviceptr dst, CUarray src, size_t offset, size_t bytes) {
  return CopyLinear(ArraySide(src, offset), DeviceSide(dst), bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpyAtoD_v2_ptds(CUdeviceptr dst, CUarray src, size_t offset, size_t bytes) {
  return CopyLinear(ArraySide(src, offset), DeviceSide(dst), bytes, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpyAtoA(CUarray dst, size_t dst_offset, CUarray src, size_t src_offset,
                                  size_t bytes) {
  return CopyLinear(ArraySide(src, src_offset), ArraySide(dst, dst_offset), bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpyAtoA_v2_ptds(CUarray dst, size_t dst_offset, CUarray src, size_t src_offset,
                                          size_t bytes) {
  return CopyLinear(ArraySide(src, src_offset), ArraySide(dst, dst_offset), bytes, nullptr, true, false);
}
