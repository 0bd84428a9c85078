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

GPUPOOL_API CUresult cuMemcpyHtoD(CUdeviceptr dst, const void* src, size_t bytes) {
  return HtoD(dst, src, bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void* src, size_t bytes) {
  return HtoD(dst, src, bytes, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream) {
  return HtoD(dst, src, bytes, stream, false, true);
}
GPUPOOL_API CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void* src, size_t bytes,
                                               CUstream stream) {
  return HtoD(dst, src, bytes, stream, true, true);
}

GPUPOOL_API CUresult cuMemcpyDtoH(void* dst, CUdeviceptr src, size_t bytes) {
  return DtoH(dst, src, bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpyDtoH_v2_ptds(void* dst, CUdeviceptr src, size_t bytes) {
  return DtoH(dst, src, bytes, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  return DtoH(dst, src, bytes, stream, false, true);
}
GPUPOOL_API CUresult cuMemcpyDtoHAsync_v2_ptsz(void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  return DtoH(dst, src, bytes, stream, true, true);
}

GPUPOOL_API CUresult cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  return DtoD(dst, src, bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  return DtoD(dst, src, bytes, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  return DtoD(dst, src, bytes, stream, false, true);
}
GPUPOOL_API CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                                               CUstream stream) {
  return DtoD(dst, src, bytes, stream, true, true);
}

GPUPOOL_API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  return Unified(dst, src, bytes, nullptr, false, false);
}
GPUPOOL_API CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  return Unified(dst, src, bytes, nullptr, true, false);
}
GPUPOOL_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  return Unified(dst, src, bytes, stream, false, true);
}
GPUPOOL_API CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  return Unified(dst, src, bytes, stream, true, true);
}
