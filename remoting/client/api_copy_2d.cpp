// 2D and 3D copies (cuMemcpy2D, cuMemcpy2DUnaligned, cuMemcpy2DAsync, cuMemcpy3D, cuMemcpy3DAsync and
// per-thread variants). When the rows lie back to back on both sides the copy is a 1D one
// (copy_engine.h: copy ring, deferral). Otherwise the host side travels packed (pitch = width) as the
// frames' tails, in pieces of at most one chunk: whole rows when a row fits, column slices of single
// rows otherwise; pieces are pipelined (copy_pipeline.h), and a piece whose host bytes are contiguous
// goes from or lands in the program's memory directly. A 3D copy of linear memory is a 2D copy per
// slice (one 2D copy when the slices are contiguous on both sides): slice z starts at row
// (z * height + y) of the same pitch. An asynchronous copy from the device into pinned memory is
// deferred piece by piece, as a 1D one is (docs/protocol.md "Deferred copies"). Copies with a CUDA array on
// either side take the array path (api_copy_array.cpp).
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "remoting/client/api_support.h"
#include "remoting/client/copy_array.h"
#include "remoting/client/copy_async.h"
#include "remoting/client/copy_engine.h"
#include "remoting/client/copy_pipeline.h"
#include "remoting/client/copy_ring.h"

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
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedCopySide(&type, host, &device));
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

// A piece of a 2D copy with one side on the host: `rows` rows from `row`, or a column slice of one.
struct Piece {
  Pending pending;
  std::size_t row = 0, rows = 0, col = 0, cols = 0;
  std::uint32_t slot = 0;  // through the copy ring: the slot holding its rows
};

// How a copy of `width` x `height` splits into pieces of at most one chunk: whole rows when a row
// fits, column slices of single rows otherwise.
struct Split {
  std::size_t width = 0, height = 0;
  std::size_t rows_per_piece = 0;  // when a row fits
  std::size_t pieces_per_row = 0;  // when it does not
  std::size_t count() const {
    return rows_per_piece != 0 ? (height + rows_per_piece - 1) / rows_per_piece : height * pieces_per_row;
  }
  void Place(std::size_t i, Piece* p) const {
    if (rows_per_piece != 0) {
      p->row = i * rows_per_piece, p->rows = std::min(rows_per_piece, height - p->row);
      p->col = 0, p->cols = width;
    } else {
      p->row = i / pieces_per_row, p->rows = 1;
      p->col = i % pieces_per_row * protocol::kChunkSize;
      p->cols = std::min(protocol::kChunkSize, width - p->col);
    }
  }
};

Split SplitOf(std::size_t width, std::size_t height) {
  const std::size_t chunk = protocol::kChunkSize;
  Split split{width, height, 0, 0};
  if (width <= chunk)
    split.rows_per_piece = chunk / width;
  else
    split.pieces_per_row = (width + chunk - 1) / chunk;
  return split;
}

// Whole rows per ring slot (rows no wider than a slot).
Split RingSplit(std::size_t width, std::size_t height) {
  return Split{width, height, protocol::kRingSlotBytes / width, 0};
}

// Whether a piece's host bytes lie contiguously in the program's memory (then they travel from there
// without packing).
bool Contiguous(const Side& host, const Piece& p) {
  return p.rows == 1 || host.pitch == p.cols;
}

CUresult PiecesToDevice(std::uint64_t context, const Side& src, const Side& dst, const Split& split,
                        std::uint64_t stream, std::uint32_t async) {
  // Made when first needed and used by every piece (a request's tail is written out before Begin
  // returns); uninitialised: every byte is written before it is sent.
  std::unique_ptr<char[]> packed;
  return Windowed<Op::Memcpy2DToDevice, Piece>(
      split.count(), kCopyWindow,
      [&](Piece& p, std::size_t i) {
        split.Place(i, &p);
        iovec tail{HostAt(src, p.row, p.col), p.rows * p.cols};
        if (!Contiguous(src, p)) {
          if (packed == nullptr) packed.reset(new char[protocol::kChunkSize]);
          char* to = packed.get();
          for (std::size_t r = 0; r < p.rows; ++r)
            std::memcpy(to + r * p.cols, HostAt(src, p.row + r, p.col), p.cols);
          tail.iov_base = to;
        }
        return Begin<Op::Memcpy2DToDevice>(context,
                                           {kHost, 0, p.cols, 0, 0, kDevice, dst.device, dst.pitch,
                                            dst.x + p.col, dst.y + p.row, p.cols, p.rows, stream, async},
                                           &p.pending, Tail{&tail, 1});
      },
      [](const Piece&) {});
}

// Pieces `first` onwards, each answered before the call returns.
CUresult PiecesFromDevice(std::uint64_t context, const Side& src, const Side& dst, const Split& split,
                          std::uint64_t stream, std::uint32_t async, std::size_t first = 0) {
  return Windowed<Op::Memcpy2DFromDevice, Piece>(
      split.count() - first, kCopyWindow,
      [&](Piece& p, std::size_t i) {
        split.Place(first + i, &p);
        p.pending.tail = HostAt(dst, p.row, p.col);  // the reply lands row by row in place
        p.pending.tail_size = p.rows * p.cols;
        if (!Contiguous(dst, p)) p.pending.tail_row = p.cols, p.pending.tail_pitch = dst.pitch;
        return Begin<Op::Memcpy2DFromDevice>(context,
                                             {kDevice, src.device, src.pitch, src.x + p.col, src.y + p.row,
                                              kHost, 0, p.cols, 0, 0, p.cols, p.rows, stream, async},
                                             &p.pending);
      },
      [](const Piece&) {});
}

// Through the copy ring (a server on this host, copy_ring.h): whole rows, packed, as many as fill a
// slot, each piece a frame that names its slot; the worker copies between the slot and the device's
// pitched rows. One memcpy per row on each side instead of the socket's copies: rows wider than a slot
// take the socket. Host to device waits for a slot to be free before filling it; device to host
// reads a piece's rows out of its slot when its reply is in (the window of kRingSlots keeps a slot
// from being reused before).
CUresult RingRowsToDevice(CopyRing& ring, Session& session, std::uint64_t context, const Side& src,
                          const Side& dst, std::size_t width, std::size_t height, std::uint64_t stream,
                          std::uint32_t async) {
  const Split split = RingSplit(width, height);
  return Windowed<Op::Memcpy2DToDeviceRing, Piece>(
      split.count(), protocol::kRingSlots,
      [&](Piece& p, std::size_t i) {
        split.Place(i, &p);
        const std::uint32_t seq = ring.Next();
        p.slot = CopyRing::SlotOf(seq);
        if (!ring.WaitWritable(seq, session)) return CUDA_ERROR_DEVICE_UNAVAILABLE;
        char* to = ring.Slot(p.slot);
        for (std::size_t r = 0; r < p.rows; ++r)
          std::memcpy(to + r * width, HostAt(src, p.row + r, 0), width);
        return Begin<Op::Memcpy2DToDeviceRing>(
            context, {dst.device, dst.pitch, dst.x, dst.y + p.row, width, p.rows, stream, async, p.slot},
            &p.pending);
      },
      [](const Piece&) {});
}

CUresult RingRowsFromDevice(CopyRing& ring, std::uint64_t context, const Side& src, const Side& dst,
                            std::size_t width, std::size_t height, std::uint64_t stream,
                            std::uint32_t async) {
  const Split split = RingSplit(width, height);
  return Windowed<Op::Memcpy2DFromDeviceRing, Piece>(
      split.count(), protocol::kRingSlots,
      [&](Piece& p, std::size_t i) {
        split.Place(i, &p);
        p.slot = CopyRing::SlotOf(ring.Next());
        return Begin<Op::Memcpy2DFromDeviceRing>(
            context, {src.device, src.pitch, src.x, src.y + p.row, width, p.rows, stream, async, p.slot},
            &p.pending);
      },
      [&](const Piece& p) {
        const char* from = ring.Slot(p.slot);
        for (std::size_t r = 0; r < p.rows; ++r)
          std::memcpy(HostAt(dst, p.row + r, 0), from + r * width, width);
      });
}

// The device address of (x, y) of a side, or false when it overflows (the server then refuses the
// copy as it comes).
bool DeviceStart(const Side& s, CUdeviceptr* out) {
  CUdeviceptr row = 0;
  return !__builtin_mul_overflow(s.y, s.pitch, &row) && !__builtin_add_overflow(s.device, row, out) &&
         !__builtin_add_overflow(*out, s.x, out);
}

// The bytes from the first row's start to the last row's end, or false when that overflows.
bool RowSpan(std::size_t width, std::size_t height, std::size_t pitch, std::size_t* span) {
  return !__builtin_mul_overflow(height - 1, pitch, span) && !__builtin_add_overflow(*span, width, span);
}

// Defers the pieces of a copy from device address `start` while the session has room for them (each
// answered when the GPU has done it, its rows landing in place: Memcpy2DFromDeviceDeferred); returns
// how many it deferred.
std::size_t DeferPieces(std::uint64_t context, CUdeviceptr start, const Side& src, const Side& dst,
                        const Split& split, std::uint64_t stream, CUresult* error) {
  const bool on_blocking_stream = State::Get().WireStreamBlocks(stream);
  return DeferWhileRoom(
      split.count(),
      [&](std::size_t i) {
        Piece p;
        split.Place(i, &p);
        return Defer<Op::Memcpy2DFromDeviceDeferred>(
            context, {start + p.row * src.pitch + p.col, src.pitch, p.cols, p.rows, stream},
            HostAt(dst, p.row, p.col), p.rows * p.cols, on_blocking_stream, p.cols, dst.pitch);
      },
      error);
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
  const Side& device = src.host ? dst : src;
  // Rows back to back on both sides: a 1D copy, with its copy ring and deferral.
  CUdeviceptr start = 0;
  const bool addressable = DeviceStart(device, &start);
  if ((height == 1 || (host.pitch == width && device.pitch == width)) && addressable) {
    if (src.host) return CopyHostToDevice(context, start, HostAt(src, 0, 0), width * height, stream, async);
    return CopyDeviceToHost(context, HostAt(dst, 0, 0), start, width * height, stream, async);
  }
  // A host side in mapped pinned memory (the mapped arena) is device memory to the worker: one
  // device-to-device copy on the stream, no byte on the ring or socket (copy_engine.h), and for a
  // synchronous copy a wait for the stream.
  if (std::size_t span = 0; RowSpan(width, height, host.pitch, &span) &&
                            State::Get().pinned.CoversMapped(HostAt(host, 0, 0), span)) {
    GPUPOOL_CU_RETURN_IF_ERROR(FinishDeferredCopiesInto(HostAt(host, 0, 0), span));
    Side from = src, to = dst;
    Side& mapped = src.host ? from : to;
    mapped = Side{false, nullptr, reinterpret_cast<CUdeviceptr>(HostAt(host, 0, 0)), host.pitch, 0, 0};
    const CUresult sent =
        Rpc<Op::Memcpy2DToDevice>(context, {kDevice, from.device, from.pitch, from.x, from.y, kDevice,
                                            to.device, to.pitch, to.x, to.y, width, height, stream, 1});
    return sent != CUDA_SUCCESS || async ? sent : Rpc<Op::StreamSynchronize>(context, {stream});
  }
  const Split split = SplitOf(width, height);
  std::size_t deferred = 0, src_span = 0, dst_span = 0;
  // Spans that overflow are not deferred: the server refuses such a copy at the call, as before.
  if (!src.host && async && addressable && RowSpan(width, height, src.pitch, &src_span) &&
      RowSpan(width, height, dst.pitch, &dst_span) &&
      Deferrable(HostAt(dst, 0, 0), dst_span, start, src_span)) {
    CUresult error = CUDA_SUCCESS;
    deferred = DeferPieces(context, start, src, dst, split, stream, &error);
    if (error != CUDA_SUCCESS || deferred == split.count()) return error;
  }
  // Lands now: after the deferred copies still to land there (with the rest of a copy deferred in
  // part, its own deferred pieces too).
  GPUPOOL_CU_RETURN_IF_ERROR(FinishDeferredCopiesInto(HostAt(host, 0, 0), (height - 1) * host.pitch + width));
  // Whole rows through the copy ring, unless it is in use by another thread or the rows are wider
  // than a slot (or part of the copy was deferred above).
  Session* session = State::Get().session();
  if (session != nullptr && session->copy_ring() != nullptr && width <= protocol::kRingSlotBytes &&
      deferred == 0) {
    CopyRing& ring = *session->copy_ring();
    if (auto lease = ring.TryLease()) {
      if (src.host)
        return RingRowsToDevice(ring, *session, context, src, dst, width, height, stream, async_flag);
      return RingRowsFromDevice(ring, context, src, dst, width, height, stream, async_flag);
    }
  }
  if (src.host) return PiecesToDevice(context, src, dst, split, stream, async_flag);
  return PiecesFromDevice(context, src, dst, split, stream, async_flag, deferred);
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
