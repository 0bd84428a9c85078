// Batched copies: cuMemcpyBatchAsync and cuMemcpy3DBatchAsync (CUDA 12.8 with a failure index, 13.0
// without; each with its _ptsz twin). Every argument is checked first, so a bad batch queues nothing;
// then the copies go one by one, in the batch's order, through the asynchronous copy paths of
// cuMemcpyAsync and cuMemcpy3DAsync (copy_async.h) on the batch's stream, so they are captured into
// graphs, queued behind host functions and chunked like those. CUDA may run a batch's copies in any
// order; this is one of them. A copy that fails when it is made stops the batch there (the 12.8 forms
// return its index); earlier copies of the batch stay queued, as in CUDA.
// Attributes: the source access order must be STREAM, DURING_API_CALL or ANY and the flags 0 or
// PREFER_OVERLAP_WITH_COMPUTE (a hint, ignored). Location hints are for managed and pageable memory
// the GPU reaches, which gpupool never has, so they are ignored as CUDA ignores them for other memory.
// DURING_API_CALL with a host source: the bytes are read before the call returns (a snapshot, also
// into a capture or behind a host function); STREAM and ANY read it as cuMemcpyAsync does.
#include <cstdint>
#include <vector>

#include "remoting/client/api_support.h"
#include "remoting/client/arrays.h"
#include "remoting/client/copy_async.h"
#include "remoting/protocol/array_format.h"

#undef cuMemcpyBatchAsync
#undef cuMemcpy3DBatchAsync

using namespace gpupool::client;

namespace {

constexpr std::size_t kNoCopy = SIZE_MAX;  // a failure index: the error is the batch's, not a copy's

bool ValidOrder(CUmemcpySrcAccessOrder order) {
  return order == CU_MEMCPY_SRC_ACCESS_ORDER_STREAM || order == CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL ||
         order == CU_MEMCPY_SRC_ACCESS_ORDER_ANY;
}

bool ValidFlags(unsigned long long flags) {
  return (flags & ~static_cast<unsigned long long>(CU_MEMCPY_FLAG_PREFER_OVERLAP_WITH_COMPUTE)) == 0;
}

// A batch goes on any stream of the current context but the legacy NULL stream (cuda.h).
CUresult CheckStream(CUstream stream, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  if (stream == CU_STREAM_LEGACY || (stream == nullptr && !per_thread)) return CUDA_ERROR_INVALID_VALUE;
  return StreamId(stream, per_thread, &id);
}

// --- cuMemcpyBatchAsync ---------------------------------------------------------------------------

CUresult CheckBatch(const CUdeviceptr* dsts, const CUdeviceptr* srcs, const std::size_t* sizes,
                    std::size_t count, const CUmemcpyAttributes* attrs, const std::size_t* idxs,
                    std::size_t num_attrs, std::size_t* fail) {
  if (count == 0 || dsts == nullptr || srcs == nullptr || sizes == nullptr || attrs == nullptr ||
      idxs == nullptr || num_attrs == 0 || num_attrs > count || idxs[0] != 0)
    return CUDA_ERROR_INVALID_VALUE;
  for (std::size_t k = 0; k < num_attrs; ++k) {
    if (idxs[k] >= count || (k > 0 && idxs[k] <= idxs[k - 1])) return CUDA_ERROR_INVALID_VALUE;
    if (!ValidOrder(attrs[k].srcAccessOrder) || !ValidFlags(attrs[k].flags)) return CUDA_ERROR_INVALID_VALUE;
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (sizes[i] != 0 && (dsts[i] == 0 || srcs[i] == 0)) {
      *fail = i;
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  return CUDA_SUCCESS;
}

CUresult Batch(CUdeviceptr* dsts, CUdeviceptr* srcs, std::size_t* sizes, std::size_t count,
               CUmemcpyAttributes* attrs, std::size_t* idxs, std::size_t num_attrs, std::size_t* fail_out,
               CUstream stream, bool per_thread) {
  std::size_t fail = kNoCopy;
  CUresult result = CheckBatch(dsts, srcs, sizes, count, attrs, idxs, num_attrs, &fail);
  if (result == CUDA_SUCCESS) result = CheckStream(stream, per_thread);
  for (std::size_t i = 0, k = 0; result == CUDA_SUCCESS && i < count; ++i) {
    while (k + 1 < num_attrs && idxs[k + 1] <= i) ++k;
    if (sizes[i] == 0) continue;
    const bool at_call = attrs[k].srcAccessOrder == CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL;
    result = MemcpyAsync(dsts[i], srcs[i], sizes[i], stream, per_thread, at_call);
    if (result != CUDA_SUCCESS) fail = i;
  }
  if (fail_out != nullptr) *fail_out = result == CUDA_SUCCESS ? kNoCopy : fail;
  return result;
}

// --- cuMemcpy3DBatchAsync -------------------------------------------------------------------------

// Bytes per element of an array operand; 0 for a pointer (its element size comes from the other side).
CUresult OperandElement(const CUmemcpy3DOperand& o, std::size_t* bytes) {
  *bytes = 0;
  if (o.type == CU_MEMCPY_OPERAND_TYPE_POINTER)
    return o.op.ptr.ptr != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  if (o.type != CU_MEMCPY_OPERAND_TYPE_ARRAY) return CUDA_ERROR_INVALID_VALUE;
  const Array* a = ArrayTable::Get().arrays.Find(o.op.array.array);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *bytes = protocol::ArrayElementBytes(a->desc.Format, a->desc.NumChannels);
  return *bytes != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// The element size of `op` (1 for pointer to pointer; the arrays' must match), after checking it.
CUresult CheckOp(const CUDA_MEMCPY3D_BATCH_OP& op, std::size_t* element) {
  const CUextent3D& e = op.extent;
  if (e.width == 0 || e.height == 0 || e.depth == 0 || !ValidOrder(op.srcAccessOrder) ||
      !ValidFlags(op.flags))
    return CUDA_ERROR_INVALID_VALUE;
  for (const CUmemcpy3DOperand* o : {&op.src, &op.dst}) {
    if (o->type != CU_MEMCPY_OPERAND_TYPE_POINTER) continue;
    if ((o->op.ptr.rowLength != 0 && o->op.ptr.rowLength < e.width) ||
        (o->op.ptr.layerHeight != 0 && o->op.ptr.layerHeight < e.height))
      return CUDA_ERROR_INVALID_VALUE;
  }
  std::size_t src = 0, dst = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(OperandElement(op.src, &src));
  GPUPOOL_CU_RETURN_IF_ERROR(OperandElement(op.dst, &dst));
  if (src != 0 && dst != 0 && src != dst) return CUDA_ERROR_INVALID_VALUE;
  *element = src != 0 ? src : (dst != 0 ? dst : 1);
  return CUDA_SUCCESS;
}

struct Side3D {
  CUmemorytype* type;
  CUdeviceptr* device;
  CUarray* array;
  std::size_t *x, *y, *z, *pitch, *height;
};

void SetSide(const CUmemcpy3DOperand& o, std::size_t element, const CUextent3D& e, const Side3D& s) {
  if (o.type == CU_MEMCPY_OPERAND_TYPE_ARRAY) {
    *s.type = CU_MEMORYTYPE_ARRAY;
    *s.array = o.op.array.array;
    *s.x = o.op.array.offset.x * element;
    *s.y = o.op.array.offset.y;
    *s.z = o.op.array.offset.z;
    return;
  }
  *s.type = CU_MEMORYTYPE_UNIFIED;  // host or device, from the client's allocation table
  *s.device = o.op.ptr.ptr;
  *s.pitch = (o.op.ptr.rowLength != 0 ? o.op.ptr.rowLength : e.width) * element;
  *s.height = o.op.ptr.layerHeight != 0 ? o.op.ptr.layerHeight : e.height;
}

CUDA_MEMCPY3D As3D(const CUDA_MEMCPY3D_BATCH_OP& op, std::size_t element) {
  CUDA_MEMCPY3D c{};
  SetSide(op.src, element, op.extent,
          {&c.srcMemoryType, &c.srcDevice, &c.srcArray, &c.srcXInBytes, &c.srcY, &c.srcZ, &c.srcPitch,
           &c.srcHeight});
  SetSide(op.dst, element, op.extent,
          {&c.dstMemoryType, &c.dstDevice, &c.dstArray, &c.dstXInBytes, &c.dstY, &c.dstZ, &c.dstPitch,
           &c.dstHeight});
  c.WidthInBytes = op.extent.width * element;
  c.Height = op.extent.height;
  c.Depth = op.extent.depth;
  return c;
}

CUresult Batch3D(std::size_t count, CUDA_MEMCPY3D_BATCH_OP* ops, std::size_t* fail_out,
                 unsigned long long flags, CUstream stream, bool per_thread) {
  if (fail_out != nullptr) *fail_out = kNoCopy;
  if (count == 0 || ops == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(CheckStream(stream, per_thread));
  std::vector<std::size_t> elements(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (CUresult r = CheckOp(ops[i], &elements[i]); r != CUDA_SUCCESS) {
      if (fail_out != nullptr) *fail_out = i;
      return r;
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    const bool at_call = ops[i].srcAccessOrder == CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL;
    const CUresult r = Memcpy3DAsync(As3D(ops[i], elements[i]), stream, per_thread, at_call);
    if (r != CUDA_SUCCESS) {
      if (fail_out != nullptr) *fail_out = i;
      return r;
    }
  }
  return CUDA_SUCCESS;
}

}  // namespace

// CUDA 12.8: with the index of the copy that failed (SIZE_MAX when the error is not one copy's).
GPUPOOL_API CUresult cuMemcpyBatchAsync(CUdeviceptr* dsts, CUdeviceptr* srcs, size_t* sizes, size_t count,
                                        CUmemcpyAttributes* attrs, size_t* attrsIdxs, size_t numAttrs,
                                        size_t* failIdx, CUstream hStream) {
  return Batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, hStream, false);
}
GPUPOOL_API CUresult cuMemcpyBatchAsync_ptsz(CUdeviceptr* dsts, CUdeviceptr* srcs, size_t* sizes,
                                             size_t count, CUmemcpyAttributes* attrs, size_t* attrsIdxs,
                                             size_t numAttrs, size_t* failIdx, CUstream hStream) {
  return Batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, hStream, true);
}
GPUPOOL_API CUresult cuMemcpy3DBatchAsync(size_t numOps, CUDA_MEMCPY3D_BATCH_OP* opList, size_t* failIdx,
                                          unsigned long long flags, CUstream hStream) {
  return Batch3D(numOps, opList, failIdx, flags, hStream, false);
}
GPUPOOL_API CUresult cuMemcpy3DBatchAsync_ptsz(size_t numOps, CUDA_MEMCPY3D_BATCH_OP* opList, size_t* failIdx,
                                               unsigned long long flags, CUstream hStream) {
  return Batch3D(numOps, opList, failIdx, flags, hStream, true);
}

// CUDA 13.0: the same without the failure index.
GPUPOOL_API CUresult cuMemcpyBatchAsync_v2(CUdeviceptr* dsts, CUdeviceptr* srcs, size_t* sizes, size_t count,
                                           CUmemcpyAttributes* attrs, size_t* attrsIdxs, size_t numAttrs,
                                           CUstream hStream) {
  return Batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, nullptr, hStream, false);
}
GPUPOOL_API CUresult cuMemcpyBatchAsync_v2_ptsz(CUdeviceptr* dsts, CUdeviceptr* srcs, size_t* sizes,
                                                size_t count, CUmemcpyAttributes* attrs, size_t* attrsIdxs,
                                                size_t numAttrs, CUstream hStream) {
  return Batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, nullptr, hStream, true);
}
GPUPOOL_API CUresult cuMemcpy3DBatchAsync_v2(size_t numOps, CUDA_MEMCPY3D_BATCH_OP* opList,
                                             unsigned long long flags, CUstream hStream) {
  return Batch3D(numOps, opList, nullptr, flags, hStream, false);
}
GPUPOOL_API CUresult cuMemcpy3DBatchAsync_v2_ptsz(size_t numOps, CUDA_MEMCPY3D_BATCH_OP* opList,
                                                  unsigned long long flags, CUstream hStream) {
  return Batch3D(numOps, opList, nullptr, flags, hStream, true);
}
