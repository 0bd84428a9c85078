// 1D copies, every direction, synchronous and asynchronous, with their per-thread-stream variants
// (_ptds for synchronous calls, _ptsz for asynchronous ones: the NULL stream means the calling
// thread's default stream). The work is in copy_engine.cpp.
#include "remoting/client/api_support.h"
#include "remoting/client/copy_engine.h"

using namespace gpupool::client;

namespace {

// Context and wire stream for a copy.
CUresult Prepare(CUstream stream, bool per_thread, std::uint64_t* context, std::uint64_t* stream_id) {
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(context));
  return StreamId(stream, per_thread, stream_id);
}

CUresult HtoD(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream, bool per_thread, bool async) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(stream, per_thread, &context, &id));
  bool recorded = false;
  if (async) {
    RecordIfCapturing(
        stream,
        [=](std::uint64_t replay) { return CopyHostToDevice(context, dst, src, bytes, replay, true); },
        &recorded);
  }
  return recorded ? CUDA_SUCCESS : CopyHostToDevice(context, dst, src, bytes, id, async);
}

CUresult DtoH(void* dst, CUdeviceptr src, size_t bytes, CUstream stream, bool per_thread, bool async) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(stream, per_thread, &context, &id));
  bool recorded = false;
  if (async) {
    RecordIfCapturing(
        stream,
        [=](std::uint64_t replay) { return CopyDeviceToHost(context, dst, src, bytes, replay, true); },
        &recorded);
  }
  return recorded ? CUDA_SUCCESS : CopyDeviceToHost(context, dst, src, bytes, id, async);
}

CUresult DtoD(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, bool per_thread, bool async) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(stream, per_thread, &context, &id));
  bool recorded = false;
  if (async) {
    RecordIfCapturing(
        stream,
        [=](std::uint64_t replay) { return CopyDeviceToDevice(context, dst, src, bytes, replay, true); },
        &recorded);
  }
  return recorded ? CUDA_SUCCESS : CopyDeviceToDevice(context, dst, src, bytes, id, async);
}

CUresult Unified(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, bool per_thread,
                 bool async) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(stream, per_thread, &context, &id));
  bool recorded = false;
  if (async) {
    RecordIfCapturing(
        stream, [=](std::uint64_t replay) { return CopyUnified(context, dst, src, bytes, replay, true); },
        &recorded);
  }
  return recorded ? CUDA_SUCCESS : CopyUnified(context, dst, src, bytes, id, async);
}

}  // namespace

// Each copy's legacy symbol and its per-thread-stream twin (_ptds for synchronous, _ptsz for async).
#define GPUPOOL_COPY(name, twin, impl, async, params, args) \
  GPUPOOL_API CUresult name params {                        \
    return impl(GPUPOOL_UNPACK args, false, async);         \
  }                                                         \
  GPUPOOL_API CUresult twin params {                        \
    return impl(GPUPOOL_UNPACK args, true, async);          \
  }
#define GPUPOOL_UNPACK(...) __VA_ARGS__

GPUPOOL_COPY(cuMemcpyHtoD, cuMemcpyHtoD_v2_ptds, HtoD, false, (CUdeviceptr d, const void* s, size_t n),
             (d, s, n, nullptr))
GPUPOOL_COPY(cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2_ptsz, HtoD, true,
             (CUdeviceptr d, const void* s, size_t n, CUstream st), (d, s, n, st))
GPUPOOL_COPY(cuMemcpyDtoH, cuMemcpyDtoH_v2_ptds, DtoH, false, (void* d, CUdeviceptr s, size_t n),
             (d, s, n, nullptr))
GPUPOOL_COPY(cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2_ptsz, DtoH, true,
             (void* d, CUdeviceptr s, size_t n, CUstream st), (d, s, n, st))
GPUPOOL_COPY(cuMemcpyDtoD, cuMemcpyDtoD_v2_ptds, DtoD, false, (CUdeviceptr d, CUdeviceptr s, size_t n),
             (d, s, n, nullptr))
GPUPOOL_COPY(cuMemcpyDtoDAsync, cuMemcpyDtoDAsync_v2_ptsz, DtoD, true,
             (CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st), (d, s, n, st))
GPUPOOL_COPY(cuMemcpy, cuMemcpy_ptds, Unified, false, (CUdeviceptr d, CUdeviceptr s, size_t n),
             (d, s, n, nullptr))
GPUPOOL_COPY(cuMemcpyAsync, cuMemcpyAsync_ptsz, Unified, true,
             (CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st), (d, s, n, st))
