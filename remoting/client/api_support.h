// Helpers shared by the exported driver functions (api_*.cpp).
//
// Thread-safety: as State.
#pragma once

#include <cuda.h>

#include "common/log.h"
#include "remoting/client/capture.h"
#include "remoting/client/copy_engine.h"
#include "remoting/client/driver_log.h"
#include "remoting/client/graph_work.h"
#include "remoting/client/managed_memory.h"
#include "remoting/client/rpc.h"
#include "remoting/client/state.h"
#include "remoting/protocol/result_names.h"

#define GPUPOOL_API extern "C" __attribute__((visibility("default")))

// Returns the CUresult of `expr` from the enclosing function unless it is CUDA_SUCCESS.
#define GPUPOOL_CU_RETURN_IF_ERROR(expr)        \
  do {                                          \
    const CUresult gpupool_cu_result_ = (expr); \
    if (gpupool_cu_result_ != CUDA_SUCCESS) {   \
      return gpupool_cu_result_;                \
    }                                           \
  } while (0)

namespace protocol = gpupool::protocol;

namespace gpupool::client {

using protocol::Op;

// cuStreamSynchronize (the _ptsz variant when `per_thread`): work held on the client first, then the
// server's stream, reporting a latched asynchronous error (api_stream_event.cpp).
CUresult SynchronizeStream(CUstream stream, bool per_thread);

class MemPool;

// Pools shared with other processes (api_ipc.cpp). MakeExportable gives a new pool its id. A free of
// a pointer another process's pool exported (cuMemPoolImportPointer) closes it in stream order:
// true, with the result in *result; false when `ptr` is no such pointer.
CUresult MakeExportable(MemPool* pool);
bool FreeImportedPoolPointer(CUdeviceptr ptr, CUstream stream, bool per_thread, CUresult* result);

// Whether cuIpcGetMemHandle may export the memory at `ptr` (api_ipc.cpp): memory the program got from
// cuMemAlloc, not managed, pool, graph or virtual memory, nor memory another process shared.
bool LegacyIpcCapable(CUdeviceptr ptr);

// Initialised and connected, with a current context: its server id in *context.
inline CUresult ReadyWithContext(std::uint64_t* context) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return State::Get().CurrentId(context);
}

// Initialised, and `ordinal` a device of the server: CUDA_ERROR_INVALID_DEVICE otherwise.
inline CUresult FindDevice(CUdevice ordinal, Device** device) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *device = State::Get().device(ordinal);
  return *device != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

// Initialised, and the context `handle` names (null: the current one): INVALID_CONTEXT otherwise.
inline CUresult FindContext(CUcontext handle, Context** context) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (handle == nullptr) {
    *context = State::Current();
    return *context != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
  }
  if (!State::Get().IsContext(handle)) return CUDA_ERROR_INVALID_CONTEXT;
  *context = reinterpret_cast<Context*>(handle);
  return CUDA_SUCCESS;
}

// The wire id of `stream`: 0 (NULL stream; CU_STREAM_PER_THREAD for the _ptds/_ptsz variants),
// 1 (CU_STREAM_LEGACY), 2 (CU_STREAM_PER_THREAD) or a stream of ours.
inline CUresult StreamId(CUstream stream, bool per_thread, std::uint64_t* id) {
  const auto raw = reinterpret_cast<std::uintptr_t>(stream);
  if (raw == 0) {
    *id = per_thread ? 2 : 0;
    return CUDA_SUCCESS;
  }
  if (stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) {
    *id = raw;
    return CUDA_SUCCESS;
  }
  Stream* s = State::Get().streams.Find(stream);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *id = s->id;
  return CUDA_SUCCESS;
}

// Whether work on `stream` waits for the legacy NULL stream (all but CU_STREAM_NON_BLOCKING ones).
inline bool IsBlocking(CUstream stream) {
  Stream* s = State::Get().streams.Find(stream);
  return s == nullptr || (s->flags & CU_STREAM_NON_BLOCKING) == 0;
}

// Whether an asynchronous copy from host memory `src` reads it at the call (a snapshot) rather than
// when the copy is sent: pageable memory while host functions may hold streams (CUDA reads it before
// returning), and every source a batched copy marks DURING_API_CALL (`at_call`). Otherwise pinned
// memory is read when sent, and a capture's source at each launch.
inline bool ReadSourceAtCall(CUstream stream, const void* src, bool at_call) {
  if (at_call) return true;
  unsigned flags = 0;
  return State::Get().order.active() && CaptureOf(stream) == nullptr &&
         !State::Get().pinned.Find(src, &flags);
}

// Whether work of this kind may read or write managed memory, which the host must then hand over
// (ManagedMemory::BeforeDeviceWork).
inline bool UsesDeviceMemory(CUgraphNodeType kind) {
  return kind == CU_GRAPH_NODE_TYPE_KERNEL || kind == CU_GRAPH_NODE_TYPE_MEMCPY ||
         kind == CU_GRAPH_NODE_TYPE_MEMSET || kind == CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
}

// One side of a 2D or 3D copy: managed memory is device memory to a copy, also when the program names
// it as host memory, and what the host wrote of its allocation is handed over first (managed_memory.h).
inline CUresult ManagedCopySide(CUmemorytype* type, const void* host, CUdeviceptr* device) {
  ManagedMemory& managed = ManagedMemory::Get();
  if (*type == CU_MEMORYTYPE_HOST && managed.Contains(reinterpret_cast<std::uintptr_t>(host))) {
    *type = CU_MEMORYTYPE_DEVICE;
    *device = reinterpret_cast<CUdeviceptr>(host);
  }
  CUdeviceptr base = 0;
  std::size_t bytes = 0;
  if (*type != CU_MEMORYTYPE_DEVICE || !managed.Find(*device, &base, &bytes)) return CUDA_SUCCESS;
  return managed.BeforeDeviceAccess(*device, base + bytes - *device);
}

// Sends `op` on `stream` (wire id `wire`) in stream order: a `kind` node of the graph while the
// stream is captured (capture.h), queued behind a host function that holds the stream or that
// `deps` name (stream_order.h; *ticket = its ticket), else sent now. Streams without host
// functions pay one atomic load on top of the capture check.
inline CUresult SubmitOp(CUgraphNodeType kind, CUstream stream, std::uint64_t context, std::uint64_t wire,
                         std::function<CUresult(std::uint64_t)> op, std::vector<StreamDep> deps = {},
                         std::uint64_t* ticket = nullptr) {
  if (ticket != nullptr) *ticket = 0;
  if (CaptureOf(stream) != nullptr) {
    CUresult captured = CUDA_SUCCESS;
    if (CaptureWork(stream, CapturedOpWork(kind, op), &captured)) return captured;
  }
  if (UsesDeviceMemory(kind))
    GPUPOOL_CU_RETURN_IF_ERROR(ManagedMemory::Get().BeforeDeviceWork(context, wire));
  StreamOrder& order = State::Get().order;
  if (!order.active() && deps.empty()) return op(wire);
  return order.Submit(
      {context, wire}, IsBlocking(stream), [op = std::move(op), wire] { return op(wire); }, std::move(deps),
      ticket);
}

// Before a call that waits for `stream` on the server: what the client still holds for it (and,
// for a blocking stream, for the legacy NULL stream) is sent first.
inline void DrainFor(std::uint64_t context, std::uint64_t wire, bool blocking) {
  StreamOrder& order = State::Get().order;
  if (!order.active()) return;
  const StreamKey key{context, wire};
  if (key.legacy()) return order.DrainContext(context, true);
  order.Drain(key);
  if (blocking) {
    order.Drain({context, 0});
    order.Drain({context, 1});
  }
}

// Before a synchronous copy, which waits for the NULL stream's work: what the host wrote to managed
// memory goes to the device, what the client holds for the stream is sent first, and the deferred
// device-to-host copies on blocking streams land (natively they would be done by its return).
inline CUresult BeforeSynchronousCopy(std::uint64_t context, std::uint64_t wire) {
  GPUPOOL_CU_RETURN_IF_ERROR(ManagedMemory::Get().BeforeDeviceWork(context, wire));
  DrainFor(context, wire, true);
  return FinishDeferredCopiesOnBlockingStreams();
}

// Destroys server object `id` with `op`: work the client still holds for the NULL streams, which
// may use the object, is sent first.
template <Op op>
CUresult DestroyRemote(std::uint64_t id) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  DrainFor(context, 0, true);
  return Rpc<op>(context, {id});
}

// A synchronising call made for its own effect (releasing memory, querying an event): the server
// answers a latched error instead of running it (docs/protocol.md), so it is made once more and
// the latched error is kept on the client for the program's next synchronisation.
template <Op op>
CUresult RpcPastLatched(std::uint64_t context, const typename protocol::Call<op>::Request& request) {
  const CUresult first = Rpc<op>(context, request);
  if (first == CUDA_SUCCESS || State::Get().session()->broken()) return first;
  const CUresult again = Rpc<op>(context, request);
  if (again != first) State::Get().order.Latch(first);  // the same error twice is the call's own
  return again;
}

// The result of synchronising call `call`, or the error a queued operation or host step latched. An
// error goes to the driver log (cuLogs*, driver_log.h), where CUDA keeps the errors it reports; not to
// stderr, which the native driver leaves alone (GPUPOOL_LOG_LEVEL=debug shows it there too). A lost
// connection was logged once already.
inline CUresult WithLatched(CUresult result, const char* call) {
  CUresult latched = State::Get().order.TakeLatched();
  const CUresult answer = result != CUDA_SUCCESS ? result : latched;
  const Session* session = State::Get().session();
  if (answer != CUDA_SUCCESS && (session == nullptr || !session->broken())) {
    const char* name = protocol::ResultName(static_cast<std::uint32_t>(answer));
    std::string line = std::string(call) + " returns " + (name != nullptr ? name : "an unknown error") +
                       " (" + std::to_string(static_cast<int>(answer)) + ")";
    if (result == CUDA_SUCCESS) line += ": latched from earlier asynchronous work";
    DriverLog::Process().Add(LogLevel::kError, line);
    GPUPOOL_LOG(kDebug) << line;
  }
  return answer;
}

}  // namespace gpupool::client
