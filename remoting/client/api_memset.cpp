// Memsets: always asynchronous on the wire (the server orders them on the stream and latches their
// errors); the synchronous driver calls use the NULL stream (the per-thread one for _ptds). A
// synchronous memset of memory marked CU_POINTER_ATTRIBUTE_SYNC_MEMOPS waits for it, as CUDA
// guarantees (another process may read the memory as soon as the call returns), and so does one of
// mapped host memory, which CUDA documents as synchronous (the program reads it right after).
#include "remoting/client/api_support.h"

using namespace gpupool::client;

namespace {

// After a memset: a synchronous one of SYNC_MEMOPS memory or of mapped host memory waits for its
// stream.
CUresult AfterMemset(CUresult sent, bool sync, CUdeviceptr dst, CUstream stream, bool per_thread) {
  const bool waits =
      State::Get().SyncMemops(dst) || State::Get().pinned.CoversMapped(reinterpret_cast<const void*>(dst), 1);
  if (sent != CUDA_SUCCESS || !sync || !waits) return sent;
  return SynchronizeStream(stream, per_thread);
}

template <Op op>
CUresult Memset(CUdeviceptr dst, std::uint32_t value, size_t count, CUstream stream, bool per_thread,
                bool sync) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  if (count == 0) return CUDA_SUCCESS;
  constexpr std::size_t kElement = op == Op::MemsetD8 ? 1 : op == Op::MemsetD16 ? 2 : 4;
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedMemory::Get().BeforeDeviceAccess(dst, count * kElement));
  const CUresult sent = SubmitOp(CU_GRAPH_NODE_TYPE_MEMSET, stream, context, id, [=](std::uint64_t on) {
    return Rpc<op>(context, {dst, value, count, on});
  });
  return AfterMemset(sent, sync, dst, stream, per_thread);
}

template <Op op>
CUresult Memset2D(CUdeviceptr dst, size_t pitch, std::uint32_t value, size_t width, size_t height,
                  CUstream stream, bool per_thread, bool sync) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  if (width == 0 || height == 0) return CUDA_SUCCESS;
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedMemory::Get().BeforeDeviceAccess(dst, pitch * height));
  const CUresult sent = SubmitOp(CU_GRAPH_NODE_TYPE_MEMSET, stream, context, id, [=](std::uint64_t on) {
    return Rpc<op>(context, {dst, pitch, value, width, height, on});
  });
  return AfterMemset(sent, sync, dst, stream, per_thread);
}

}  // namespace

#define GPUPOOL_MEMSET(bits, type)                                                                        \
  GPUPOOL_API CUresult cuMemsetD##bits##_v2(CUdeviceptr d, type v, size_t n) {                            \
    return Memset<Op::MemsetD##bits>(d, v, n, nullptr, false, true);                                      \
  }                                                                                                       \
  GPUPOOL_API CUresult cuMemsetD##bits##_v2_ptds(CUdeviceptr d, type v, size_t n) {                       \
    return Memset<Op::MemsetD##bits>(d, v, n, nullptr, true, true);                                       \
  }                                                                                                       \
  GPUPOOL_API CUresult cuMemsetD##bits##Async(CUdeviceptr d, type v, size_t n, CUstream s) {              \
    return Memset<Op::MemsetD##bits>(d, v, n, s, false, false);                                           \
  }                                                                                                       \
  GPUPOOL_API CUresult cuMemsetD##bits##Async_ptsz(CUdeviceptr d, type v, size_t n, CUstream s) {         \
    return Memset<Op::MemsetD##bits>(d, v, n, s, true, false);                                            \
  }                                                                                                       \
  GPUPOOL_API CUresult cuMemsetD2D##bits##_v2(CUdeviceptr d, size_t p, type v, size_t w, size_t h) {      \
    return Memset2D<Op::MemsetD2D##bits>(d, p, v, w, h, nullptr, false, true);                            \
  }                                                                                                       \
  GPUPOOL_API CUresult cuMemsetD2D##bits##_v2_ptds(CUdeviceptr d, size_t p, type v, size_t w, size_t h) { \
    return Memset2D<Op::MemsetD2D##bits>(d, p, v, w, h, nullptr, true, true);                             \
  }                                                                                                       \
  GPUPOOL_API CUresult cuMemsetD2D##bits##Async(CUdeviceptr d, size_t p, type v, size_t w, size_t h,      \
                                                CUstream s) {                                             \
    return Memset2D<Op::MemsetD2D##bits>(d, p, v, w, h, s, false, false);                                 \
  }                                                                                                       \
  GPUPOOL_API CUresult cuMemsetD2D##bits##Async_ptsz(CUdeviceptr d, size_t p, type v, size_t w, size_t h, \
                                                     CUstream s) {                                        \
    return Memset2D<Op::MemsetD2D##bits>(d, p, v, w, h, s, true, false);                                  \
  }

#undef cuMemsetD8
#undef cuMemsetD16
#undef cuMemsetD32
#undef cuMemsetD2D8
#undef cuMemsetD2D16
#undef cuMemsetD2D32
#undef cuMemsetD8Async
#undef cuMemsetD16Async
#undef cuMemsetD32Async
#undef cuMemsetD2D8Async
#undef cuMemsetD2D16Async
#undef cuMemsetD2D32Async
GPUPOOL_MEMSET(8, unsigned char)
GPUPOOL_MEMSET(16, unsigned short)
GPUPOOL_MEMSET(32, unsigned int)
