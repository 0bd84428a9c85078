// 1D copies, every direction, synchronous and asynchronous, with their per-thread-stream variants
// (_ptds for synchronous calls, _ptsz for asynchronous ones: the NULL stream means the calling
// thread's default stream). The work is in copy_engine.cpp.
#include "remoting/client/api_support.h"
#include "remoting/client/copy_async.h"
#include "remoting/client/copy_engine.h"

using namespace gpupool::client;

namespace {

// Context and wire stream for a copy.
CUresult Prepare(CUstream stream, bool per_thread, std::uint64_t* context, std::uint64_t* stream_id) {
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(context));
  return StreamId(stream, per_thread, stream_id);
}

// Host bytes an asynchronous copy reads: a snapshot taken now, or the program's memory when the copy
// is sent (ReadSourceAtCall).
std::function<const void*()> HostSource(CUstream stream, const void* src, std::size_t bytes,
                                        bool at_call = false) {
  if (!ReadSourceAtCall(stream, src, at_call)) return [src] { return src; };
  auto copy = std::make_shared<std::string>(static_cast<const char*>(src), bytes);
  return [copy] { return static_cast<const void*>(copy->data()); };
}

// A synchronous copy: it waits for the legacy NULL stream's work (or the per-thread stream's), so
// what the client holds for them is sent first.
template <typename Copy>
CUresult Synchronous(std::uint64_t context, std::uint64_t id, const Copy& copy) {
  GPUPOOL_CU_RETURN_IF_ERROR(CheckUnsafeCall());  // it synchronises: never during a capture (capture.h)
  GPUPOOL_CU_RETURN_IF_ERROR(BeforeSynchronousCopy(context, id));
  return copy();
}

CUresult DtoD(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, bool per_thread, bool async);

// Managed memory is device memory to a copy, whatever side the program names it as: the client never
// reads or writes the program's view of it (managed_memory.h).
bool Managed(const void* host, std::size_t bytes) {
  return ManagedMemory::Get().Contains(reinterpret_cast<std::uintptr_t>(host), bytes);
}

// A copy that names managed memory takes it from the host, however it is attached.
CUresult HandOver(std::uintptr_t dst, std::uintptr_t src, std::size_t bytes) {
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedMemory::Get().BeforeDeviceAccess(dst, bytes));
  return ManagedMemory::Get().BeforeDeviceAccess(src, bytes);
}

CUresult HtoD(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream, bool per_thread, bool async) {
  if (Managed(src, bytes))
    return DtoD(dst, reinterpret_cast<CUdeviceptr>(src), bytes, stream, per_thread, async);
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedMemory::Get().BeforeDeviceAccess(dst, bytes));
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(stream, per_thread, &context, &id));
  if (!async)
    return Synchronous(context, id, [&] { return CopyHostToDevice(context, dst, src, bytes, id, false); });
  auto source = HostSource(stream, src, bytes);
  return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, id, [=](std::uint64_t on) {
    return CopyHostToDevice(context, dst, source(), bytes, on, true);
  });
}

CUresult DtoH(void* dst, CUdeviceptr src, size_t bytes, CUstream stream, bool per_thread, bool async) {
  if (Managed(dst, bytes))
    return DtoD(reinterpret_cast<CUdeviceptr>(dst), src, bytes, stream, per_thread, async);
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedMemory::Get().BeforeDeviceAccess(src, bytes));
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(stream, per_thread, &context, &id));
  if (!async)
    return Synchronous(context, id, [&] { return CopyDeviceToHost(context, dst, src, bytes, id, false); });
  // Sent now, the server completes it before replying (copy_engine.h); queued behind a host
  // function, the stream's worker does so once it is the stream's turn.
  return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, id,
                  [=](std::uint64_t on) { return CopyDeviceToHost(context, dst, src, bytes, on, true); });
}

CUresult DtoD(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, bool per_thread, bool async) {
  GPUPOOL_CU_RETURN_IF_ERROR(HandOver(dst, src, bytes));
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(stream, per_thread, &context, &id));
  if (!async)
    return Synchronous(context, id, [&] { return CopyDeviceToDevice(context, dst, src, bytes, id, false); });
  return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, id,
                  [=](std::uint64_t on) { return CopyDeviceToDevice(context, dst, src, bytes, on, true); });
}

CUresult Unified(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, bool per_thread, bool async,
                 bool at_call = false) {
  GPUPOOL_CU_RETURN_IF_ERROR(HandOver(dst, src, bytes));
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(stream, per_thread, &context, &id));
  if (!async)
    return Synchronous(context, id, [&] { return CopyUnified(context, dst, src, bytes, id, false); });
  CUdeviceptr base = 0;
  std::size_t size = 0;
  const bool host_source = !State::Get().FindAllocation(src, &base, &size);
  if (host_source && !State::Get().FindAllocation(dst, &base, &size))
    return CopyUnified(context, dst, src, bytes, id, true);
  if (!host_source) {
    return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, id,
                    [=](std::uint64_t on) { return CopyUnified(context, dst, src, bytes, on, true); });
  }
  auto source = HostSource(stream, reinterpret_cast<const void*>(src), bytes, at_call);
  return SubmitOp(CU_GRAPH_NODE_TYPE_MEMCPY, stream, context, id, [=](std::uint64_t on) {
    return CopyUnified(context, dst, reinterpret_cast<CUdeviceptr>(source()), bytes, on, true);
  });
}

}  // namespace

CUresult gpupool::client::MemcpyAsync(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes, CUstream stream,
                                      bool per_thread, bool at_call) {
  return Unified(dst, src, bytes, stream, per_thread, true, at_call);
}

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
