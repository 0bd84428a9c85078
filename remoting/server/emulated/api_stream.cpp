// Streams, events and host functions.
//
// Every operation runs when it is enqueued, which is one valid CUDA schedule: each stream's work
// is in order, and work enqueued after an event was recorded never completes before it. So queries
// and synchronisations find everything done (CUDA_SUCCESS), an event is complete as soon as it is
// recorded, and elapsed times are the monotonic clock's readings at record time. What CUDA reports
// about events that were never recorded, or that cannot time, follows the driver documentation.
#include <chrono>

#include "remoting/server/emulated/api.h"

namespace gpupool::server::emulated {
namespace {

constexpr unsigned kStreamFlags = CU_STREAM_NON_BLOCKING;
constexpr unsigned kEventFlags = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
constexpr int kGreatestPriority = -5;

std::uint64_t MonotonicNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

CUresult CreateStream(CUstream* out, unsigned flags, int priority) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  return NewStream(ctx, flags, priority, out);
}

}  // namespace

CUresult NewStream(Context* ctx, unsigned flags, int priority, CUstream* out) {
  if (out == nullptr || (flags & ~kStreamFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  auto stream = std::make_unique<Stream>();
  stream->ctx = ctx;
  stream->flags = flags;
  // Out-of-range priorities are clamped, as the driver does.
  stream->priority = priority > 0 ? 0 : priority < kGreatestPriority ? kGreatestPriority : priority;
  State& s = GetState();
  stream->id = s.next_id++;
  CUstream handle = reinterpret_cast<CUstream>(stream.get());
  s.streams.emplace(handle, std::move(stream));
  *out = handle;
  return CUDA_SUCCESS;
}

namespace {

CUresult StreamCreate(CUstream* out, unsigned flags) {
  return CreateStream(out, flags, 0);
}
CUresult StreamCreateWithPriority(CUstream* out, unsigned flags, int priority) {
  return CreateStream(out, flags, priority);
}

CUresult StreamDestroy(CUstream stream) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return GetState().streams.erase(stream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// Synchronize and query: the stream is valid and, with all work done at enqueue, idle.
CUresult StreamIdle(CUstream stream) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  return CheckStream(stream);
}

CUresult StreamWaitEvent(CUstream stream, CUevent event, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  if (!GetState().events.count(event)) return CUDA_ERROR_INVALID_HANDLE;
  if ((flags & ~CU_EVENT_WAIT_EXTERNAL) != 0) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;  // the event's work is complete (or it was never recorded: no wait)
}

CUresult StreamGetPriority(CUstream stream, int* priority) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  auto it = GetState().streams.find(stream);
  *priority = it == GetState().streams.end() ? 0 : it->second->priority;
  return CUDA_SUCCESS;
}

CUresult StreamGetFlags(CUstream stream, unsigned* flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  auto it = GetState().streams.find(stream);
  *flags = it == GetState().streams.end() ? static_cast<unsigned>(CU_STREAM_DEFAULT) : it->second->flags;
  return CUDA_SUCCESS;
}

CUresult StreamGetId(CUstream stream, unsigned long long* id) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  *id = StreamId(stream);
  return CUDA_SUCCESS;
}

// Runs fn in stream order: everything enqueued before it is done, so it runs now, on the caller's
// thread and outside the state lock (a host function must not call CUDA, but must not deadlock us).
CUresult LaunchHostFunc(CUstream stream, CUhostFn fn, void* user_data) {
  {
    GPUPOOL_CURRENT_CONTEXT(ctx);
    (void)ctx;
    if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  }
  fn(user_data);
  return CUDA_SUCCESS;
}

CUresult EventCreate(CUevent* out, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (out == nullptr || (flags & ~kEventFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  // Interprocess events must not time (the driver's rule).
  if ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING)) return CUDA_ERROR_INVALID_VALUE;
  auto event = std::make_unique<Event>();
  event->flags = flags;
  CUevent handle = reinterpret_cast<CUevent>(event.get());
  GetState().events.emplace(handle, std::move(event));
  *out = handle;
  return CUDA_SUCCESS;
}

CUresult EventDestroy(CUevent event) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return GetState().events.erase(event) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult EventRecordWithFlags(CUevent event, CUstream stream, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  auto it = GetState().events.find(event);
  if (it == GetState().events.end()) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  if ((flags & ~CU_EVENT_RECORD_EXTERNAL) != 0) return CUDA_ERROR_INVALID_VALUE;
  it->second->recorded = true;
  it->second->recorded_ns = MonotonicNs();
  return CUDA_SUCCESS;
}

CUresult EventRecord(CUevent event, CUstream stream) {
  return EventRecordWithFlags(event, stream, 0);
}

// Query and synchronize: CUDA_SUCCESS for a recorded event (complete at once) and, as documented,
// for one that was never recorded.
CUresult EventIdle(CUevent event) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return GetState().events.count(event) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult EventElapsedTime(float* ms, CUevent start, CUevent end) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (ms == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto& events = GetState().events;
  auto a = events.find(start), b = events.find(end);
  if (a == events.end() || b == events.end()) return CUDA_ERROR_INVALID_HANDLE;
  const Event& s = *a->second;
  const Event& e = *b->second;
  // Never recorded, or created with CU_EVENT_DISABLE_TIMING: CUDA_ERROR_INVALID_HANDLE.
  if (!s.recorded || !e.recorded) return CUDA_ERROR_INVALID_HANDLE;
  if ((s.flags | e.flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  *ms =
      static_cast<float>(static_cast<double>(static_cast<std::int64_t>(e.recorded_ns - s.recorded_ns)) / 1e6);
  return CUDA_SUCCESS;
}

}  // namespace

void FillStreamApi(DriverApi& api) {
  api.cuStreamCreate = StreamCreate;
  api.cuStreamCreateWithPriority = StreamCreateWithPriority;
  api.cuStreamDestroy_v2 = StreamDestroy;
  api.cuStreamSynchronize = StreamIdle;
  api.cuStreamQuery = StreamIdle;
  api.cuStreamWaitEvent = StreamWaitEvent;
  api.cuStreamGetPriority = StreamGetPriority;
  api.cuStreamGetFlags = StreamGetFlags;
  api.cuStreamGetId = StreamGetId;
  api.cuLaunchHostFunc = LaunchHostFunc;
  api.cuEventCreate = EventCreate;
  api.cuEventDestroy_v2 = EventDestroy;
  api.cuEventRecord = EventRecord;
  api.cuEventRecordWithFlags = EventRecordWithFlags;
  api.cuEventQuery = EventIdle;
  api.cuEventSynchronize = EventIdle;
  api.cuEventElapsedTime_v2 = EventElapsedTime;
}

}  // namespace gpupool::server::emulated
