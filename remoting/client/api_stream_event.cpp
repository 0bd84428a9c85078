// Streams and events: client objects wrapping server ids. Record and wait are asynchronous on the
// wire; synchronise, query and elapsed time wait for the server (and return latched errors).
#include "remoting/client/api_support.h"
#include "remoting/client/graph_node_work.h"
#include "remoting/client/pools.h"

using namespace gpupool::client;

namespace {

CUresult FindEvent(CUevent handle, Event** event) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *event = State::Get().events.Find(handle);
  return *event != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CreateStream(CUstream* stream, unsigned flags, int priority, bool with_priority) {
  if (stream == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & ~static_cast<unsigned>(CU_STREAM_NON_BLOCKING)) != 0) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::StreamCreate>::Reply reply;
  if (with_priority) {
    GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::StreamCreateWithPriority>(context, {flags, priority}, &reply));
  } else {
    GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::StreamCreate>(context, {flags}, &reply));
  }
  auto object = std::make_unique<Stream>();
  object->id = std::get<0>(reply);
  object->context = State::Current();
  object->flags = flags;
  object->priority = priority;
  *stream = reinterpret_cast<CUstream>(State::Get().streams.Add(std::move(object)));
  return CUDA_SUCCESS;
}

CUresult StreamCall(CUstream stream, bool per_thread, std::uint64_t* context, std::uint64_t* id) {
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(context));
  return StreamId(stream, per_thread, id);
}

CUresult Query(CUstream stream, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(StreamCall(stream, per_thread, &context, &id));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckNotCaptured(stream));
  if (!State::Get().order.Done({context, id})) return CUDA_ERROR_NOT_READY;  // a host function holds it
  return Rpc<Op::StreamQuery>(context, {id});
}

// The latest record of `e` while it is still queued behind a host function: what waits for it.
bool HeldRecord(Event* e, StreamDep* dep) {
  StreamOrder& order = State::Get().order;
  if (!order.active()) return false;
  std::lock_guard<std::mutex> lock(e->record_mu);
  if (e->held_ticket == 0) return false;
  *dep = {e->held_key, e->held_ticket + 1};
  if (!order.Done(dep->key, dep->below)) return true;
  e->held_ticket = 0;
  return false;
}

CUresult WaitEvent(CUstream stream, CUevent event, unsigned flags, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(StreamCall(stream, per_thread, &context, &id));
  Event* e = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindEvent(event, &e));
  std::vector<StreamDep> deps(1);
  if (!HeldRecord(e, &deps[0])) deps.clear();
  const std::uint64_t event_id = e->id;
  auto wait = [=](std::uint64_t on) { return Rpc<Op::StreamWaitEvent>(context, {on, event_id, flags}); };
  // An event recorded during a capture joins the waiting stream into it (capture.h). An event
  // from outside the capture is a graph node only when the program says so (CU_EVENT_WAIT_EXTERNAL);
  // otherwise the wait goes out at once: the captured work depends on it only through the graph.
  CUresult joined = CUDA_SUCCESS;
  if (CaptureWait(stream, e, &joined)) return joined;
  if (CaptureOf(stream) != nullptr) {
    if ((flags & CU_EVENT_WAIT_EXTERNAL) == 0) return wait(id);
    NodeWork work;
    GPUPOOL_CU_RETURN_IF_ERROR(EventWork(CU_GRAPH_NODE_TYPE_WAIT_EVENT, event, &work));
    if (CaptureWork(stream, std::move(work), &joined)) return joined;
  }
  return SubmitOp(CU_GRAPH_NODE_TYPE_WAIT_EVENT, stream, context, id, wait, std::move(deps));
}

CUresult Record(CUevent event, CUstream stream, unsigned flags, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(StreamCall(stream, per_thread, &context, &id));
  Event* e = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindEvent(event, &e));
  // Records of one event reach the server in the order the program made them.
  std::vector<StreamDep> deps(1);
  if (!HeldRecord(e, &deps[0])) deps.clear();
  const std::uint64_t event_id = e->id;
  auto record = [=](std::uint64_t on) {
    if (flags == 0) return Rpc<Op::EventRecord>(context, {event_id, on});
    return Rpc<Op::EventRecordWithFlags>(context, {event_id, on, flags});
  };
  // On a captured stream a record marks the stream's place in the graph for later waits (capture.h);
  // with CU_EVENT_RECORD_EXTERNAL it is a graph node that records the event at each launch.
  if (CaptureOf(stream) != nullptr) {
    CUresult captured = CUDA_SUCCESS;
    if ((flags & CU_EVENT_RECORD_EXTERNAL) != 0) {
      NodeWork work;
      GPUPOOL_CU_RETURN_IF_ERROR(EventWork(CU_GRAPH_NODE_TYPE_EVENT_RECORD, event, &work));
      if (CaptureWork(stream, std::move(work), &captured)) return captured;
    } else if (CaptureRecord(stream, e)) {
      return CUDA_SUCCESS;
    }
  }
  {
    std::lock_guard<std::mutex> lock(e->record_mu);  // recorded outside any capture from now on
    e->captured_in.reset();
    e->captured_nodes.clear();
  }
  std::uint64_t ticket = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(
      SubmitOp(CU_GRAPH_NODE_TYPE_EVENT_RECORD, stream, context, id, record, std::move(deps), &ticket));
  if (ticket != 0) {
    std::lock_guard<std::mutex> lock(e->record_mu);
    e->held_key = {context, id};
    e->held_ticket = ticket;
  }
  return CUDA_SUCCESS;
}

CUresult Priority(CUstream stream, int* priority, bool per_thread) {
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(StreamCall(stream, per_thread, &context, &id));
  protocol::Call<Op::StreamGetPriority>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::StreamGetPriority>(context, {id}, &reply));
  *priority = std::get<0>(reply);
  return CUDA_SUCCESS;
}

CUresult Flags(CUstream stream, unsigned* flags, bool per_thread) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(StreamCall(stream, per_thread, &context, &id));
  protocol::Call<Op::StreamGetFlags>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::StreamGetFlags>(context, {id}, &reply));
  *flags = std::get<0>(reply);
  return CUDA_SUCCESS;
}

}  // namespace

CUresult gpupool::client::SynchronizeStream(CUstream stream, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(StreamCall(stream, per_thread, &context, &id));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckNotCaptured(stream));
  const std::uint64_t frees = Pools::Get().FreeSeq();
  DrainFor(context, id, IsBlocking(stream));
  const CUresult result = WithLatched(Rpc<Op::StreamSynchronize>(context, {id}), "cuStreamSynchronize");
  const StreamKey key{context, id};  // the frees on this stream are complete
  if (result == CUDA_SUCCESS) Pools::Get().AfterSync(context, &key, frees);
  return result;
}

GPUPOOL_API CUresult cuStreamCreate(CUstream* stream, unsigned int flags) {
  return CreateStream(stream, flags, 0, false);
}
GPUPOOL_API CUresult cuStreamCreateWithPriority(CUstream* stream, unsigned int flags, int priority) {
  return CreateStream(stream, flags, priority, true);
}

GPUPOOL_API CUresult cuStreamDestroy_v2(CUstream stream) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  Stream* s = State::Get().streams.Find(stream);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const std::uint64_t id = s->id;
  // As in CUDA, destroying a stream with work still held on the client returns at once; the
  // stream is destroyed on the server after that work.
  auto destroy = [context, id] { return Rpc<Op::StreamDestroy>(context, {id}); };
  if (!State::Get().order.SubmitLast({context, id}, destroy)) GPUPOOL_CU_RETURN_IF_ERROR(destroy());
  State::Get().streams.Remove(stream);
  return CUDA_SUCCESS;
}
#undef cuStreamDestroy
GPUPOOL_API CUresult cuStreamDestroy(CUstream stream) {
  return cuStreamDestroy_v2(stream);
}

GPUPOOL_API CUresult cuStreamSynchronize(CUstream stream) {
  return SynchronizeStream(stream, false);
}
GPUPOOL_API CUresult cuStreamSynchronize_ptsz(CUstream stream) {
  return SynchronizeStream(stream, true);
}
GPUPOOL_API CUresult cuStreamQuery(CUstream stream) {
  return Query(stream, false);
}
GPUPOOL_API CUresult cuStreamQuery_ptsz(CUstream stream) {
  return Query(stream, true);
}
GPUPOOL_API CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int flags) {
  return WaitEvent(stream, event, flags, false);
}
GPUPOOL_API CUresult cuStreamWaitEvent_ptsz(CUstream stream, CUevent event, unsigned int flags) {
  return WaitEvent(stream, event, flags, true);
}
GPUPOOL_API CUresult cuStreamGetPriority(CUstream stream, int* priority) {
  return Priority(stream, priority, false);
}
GPUPOOL_API CUresult cuStreamGetPriority_ptsz(CUstream stream, int* priority) {
  return Priority(stream, priority, true);
}
GPUPOOL_API CUresult cuStreamGetFlags(CUstream stream, unsigned int* flags) {
  return Flags(stream, flags, false);
}
GPUPOOL_API CUresult cuStreamGetFlags_ptsz(CUstream stream, unsigned int* flags) {
  return Flags(stream, flags, true);
}

GPUPOOL_API CUresult cuEventCreate(CUevent* event, unsigned int flags) {
  if (event == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::EventCreate>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::EventCreate>(context, {flags}, &reply));
  auto object = std::make_unique<Event>();
  object->id = std::get<0>(reply);
  object->context = State::Current();
  object->flags = flags;
  *event = reinterpret_cast<CUevent>(State::Get().events.Add(std::move(object)));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuEventDestroy_v2(CUevent event) {
  Event* e = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindEvent(event, &e));
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::EventDestroy>(0, {e->id}));
  State::Get().events.Remove(event);
  return CUDA_SUCCESS;
}
#undef cuEventDestroy
GPUPOOL_API CUresult cuEventDestroy(CUevent event) {
  return cuEventDestroy_v2(event);
}

GPUPOOL_API CUresult cuEventRecord(CUevent event, CUstream stream) {
  return Record(event, stream, 0, false);
}
GPUPOOL_API CUresult cuEventRecord_ptsz(CUevent event, CUstream stream) {
  return Record(event, stream, 0, true);
}
GPUPOOL_API CUresult cuEventRecordWithFlags(CUevent event, CUstream stream, unsigned int flags) {
  return Record(event, stream, flags, false);
}
GPUPOOL_API CUresult cuEventRecordWithFlags_ptsz(CUevent event, CUstream stream, unsigned int flags) {
  return Record(event, stream, flags, true);
}

GPUPOOL_API CUresult cuEventQuery(CUevent event) {
  Event* e = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindEvent(event, &e));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckNotCapturedEvent(e));
  StreamDep held;
  if (HeldRecord(e, &held)) return CUDA_ERROR_NOT_READY;
  return Rpc<Op::EventQuery>(0, {e->id});
}

GPUPOOL_API CUresult cuEventSynchronize(CUevent event) {
  Event* e = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindEvent(event, &e));
  GPUPOOL_CU_RETURN_IF_ERROR(CheckNotCapturedEvent(e));
  StreamDep held;
  if (HeldRecord(e, &held)) GPUPOOL_CU_RETURN_IF_ERROR(State::Get().order.Wait(held));
  return WithLatched(Rpc<Op::EventSynchronize>(0, {e->id}), "cuEventSynchronize");
}

GPUPOOL_API CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
  if (ms == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Event *a = nullptr, *b = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindEvent(start, &a));
  GPUPOOL_CU_RETURN_IF_ERROR(FindEvent(end, &b));
  StreamDep held;
  if (HeldRecord(a, &held) || HeldRecord(b, &held)) return CUDA_ERROR_NOT_READY;
  protocol::Call<Op::EventElapsedTime>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::EventElapsedTime>(0, {a->id, b->id}, &reply));
  *ms = std::get<0>(reply);
  return CUDA_SUCCESS;
}
#undef cuEventElapsedTime
GPUPOOL_API CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
  return cuEventElapsedTime_v2(ms, start, end);
}
