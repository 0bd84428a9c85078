// Streams, events and host functions.
//
// Data effects happen when work is enqueued; completion follows the simulated timeline
// (timeline.h): with --emulated-kernel-time a stream stays busy while its kernels "run", queries
// answer CUDA_ERROR_NOT_READY until then, synchronisations wait for it, and an event completes (and
// reads its time) when its stream reaches it. With no kernel time everything completes at enqueue.
// What CUDA reports about events that were never recorded, or that cannot time, follows the driver
// documentation.
#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/device_printf.h"
#include "remoting/server/emulated/timeline.h"

namespace gpupool::server::emulated {
namespace {

constexpr unsigned kStreamFlags = CU_STREAM_NON_BLOCKING;
constexpr unsigned kEventFlags = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
constexpr int kGreatestPriority = -5;

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
  auto& streams = GetState().streams;
  auto it = streams.find(stream);
  if (it == streams.end()) return CUDA_ERROR_INVALID_HANDLE;
  RetireStream(it->second->ctx, stream);  // its work still completes, as in CUDA
  streams.erase(it);
  return CUDA_SUCCESS;
}

// When the stream's work completes, or an error for a bad stream.
CUresult StreamDone(CUstream stream, std::uint64_t* done) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  *done = StreamDoneNs(ctx, stream);
  return CUDA_SUCCESS;
}

CUresult StreamSynchronize(CUstream stream) {
  std::uint64_t done = 0;
  if (CUresult r = StreamDone(stream, &done); r != CUDA_SUCCESS) return r;
  {
    GPUPOOL_EMULATED_LOCK();
    FlushPrintf(CurrentContext());
  }
  SleepUntilNs(done);  // outside the lock: other threads go on while this one waits
  return CUDA_SUCCESS;
}

CUresult StreamQuery(CUstream stream) {
  std::uint64_t done = 0;
  if (CUresult r = StreamDone(stream, &done); r != CUDA_SUCCESS) return r;
  return MonotonicNs() >= done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUresult StreamWaitEvent(CUstream stream, CUevent event, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  auto it = GetState().events.find(event);
  if (it == GetState().events.end()) return CUDA_ERROR_INVALID_HANDLE;
  if ((flags & ~CU_EVENT_WAIT_EXTERNAL) != 0) return CUDA_ERROR_INVALID_VALUE;
  // Later work on the stream waits for the event's work (an event never recorded: no wait).
  if (const std::uint64_t done = it->second->DoneNs(); done != 0) StreamWaitUntil(ctx, stream, done);
  return CUDA_SUCCESS;
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

// Runs fn in stream order: once everything enqueued before it is done, on the caller's thread and
// outside the state lock (a host function must not call CUDA, but must not deadlock us).
CUresult LaunchHostFunc(CUstream stream, CUhostFn fn, void* user_data) {
  std::uint64_t done = 0;
  {
    GPUPOOL_CURRENT_CONTEXT(ctx);
    if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
    done = StreamDoneNs(ctx, stream);
  }
  SleepUntilNs(done);
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
  if ((flags & CU_EVENT_INTERPROCESS) && (event->shared = SharedWord::Create()) == nullptr)
    return CUDA_ERROR_OUT_OF_MEMORY;
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
  auto it = GetState().events.find(event);
  if (it == GetState().events.end()) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  if ((flags & ~CU_EVENT_RECORD_EXTERNAL) != 0) return CUDA_ERROR_INVALID_VALUE;
  it->second->Record(Enqueue(ctx, stream, 0, /*kernel=*/false));
  return CUDA_SUCCESS;
}

CUresult EventRecord(CUevent event, CUstream stream) {
  return EventRecordWithFlags(event, stream, 0);
}

// When the event completes: its stream reached it (0 for one never recorded: complete, as
// documented).
CUresult EventDone(CUevent event, std::uint64_t* done) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  auto it = GetState().events.find(event);
  if (it == GetState().events.end()) return CUDA_ERROR_INVALID_HANDLE;
  *done = it->second->DoneNs();
  return CUDA_SUCCESS;
}

CUresult EventQuery(CUevent event) {
  std::uint64_t done = 0;
  if (CUresult r = EventDone(event, &done); r != CUDA_SUCCESS) return r;
  return MonotonicNs() >= done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUresult EventSynchronize(CUevent event) {
  std::uint64_t done = 0;
  if (CUresult r = EventDone(event, &done); r != CUDA_SUCCESS) return r;
  {
    GPUPOOL_EMULATED_LOCK();
    FlushPrintf(CurrentContext());
  }
  SleepUntilNs(done);
  return CUDA_SUCCESS;
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
  const std::uint64_t s_ns = s.DoneNs(), e_ns = e.DoneNs();
  if (s_ns == 0 || e_ns == 0) return CUDA_ERROR_INVALID_HANDLE;
  if ((s.flags | e.flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  const std::uint64_t now = MonotonicNs();
  if (now < s_ns || now < e_ns) return CUDA_ERROR_NOT_READY;
  *ms = static_cast<float>(static_cast<double>(static_cast<std::int64_t>(e_ns - s_ns)) / 1e6);
  return CUDA_SUCCESS;
}

}  // namespace

void FillStreamApi(DriverApi& api) {
  api.cuStreamCreate = StreamCreate;
  api.cuStreamCreateWithPriority = StreamCreateWithPriority;
  api.cuStreamDestroy_v2 = StreamDestroy;
  api.cuStreamSynchronize = StreamSynchronize;
  api.cuStreamQuery = StreamQuery;
  api.cuStreamWaitEvent = StreamWaitEvent;
  api.cuStreamGetPriority = StreamGetPriority;
  api.cuStreamGetFlags = StreamGetFlags;
  api.cuStreamGetId = StreamGetId;
  api.cuLaunchHostFunc = LaunchHostFunc;
  api.cuEventCreate = EventCreate;
  api.cuEventDestroy_v2 = EventDestroy;
  api.cuEventRecord = EventRecord;
  api.cuEventRecordWithFlags = EventRecordWithFlags;
  api.cuEventQuery = EventQuery;
  api.cuEventSynchronize = EventSynchronize;
  api.cuEventElapsedTime_v2 = EventElapsedTime;
}

}  // namespace gpupool::server::emulated
