// Handlers: streams and events. New handles enter the session's tables; every stream or event id
// that comes in is looked up there first.
#include "remoting/server/compute_share.h"
#include "remoting/server/dispatch.h"

namespace gpupool::server {

GPUPOOL_HANDLER(StreamCreate) {
  CUstream stream = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuStreamCreate, &stream, std::get<0>(in));
  if (r == CUDA_SUCCESS) std::get<0>(*out) = s.streams.Add(stream);
  return r;
}

GPUPOOL_HANDLER(StreamCreateWithPriority) {
  CUstream stream = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuStreamCreateWithPriority, &stream, std::get<0>(in), std::get<1>(in));
  if (r == CUDA_SUCCESS) std::get<0>(*out) = s.streams.Add(stream);
  return r;
}

GPUPOOL_HANDLER(StreamDestroy) {
  CUstream stream = nullptr;
  std::uint64_t id = std::get<0>(in);
  if (id <= 2 || s.Stream(id, &stream) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_HANDLE;
  s.streams.Remove(id);
  return GPUPOOL_DRIVER(s, cuStreamDestroy_v2, stream);
}

GPUPOOL_HANDLER(StreamSynchronize) {
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(std::get<0>(in), &stream); r != CUDA_SUCCESS) return r;
  CUresult r = GPUPOOL_DRIVER(s, cuStreamSynchronize, stream);
  s.CollectKernels();
  return r;
}

GPUPOOL_HANDLER(StreamQuery) {
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(std::get<0>(in), &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuStreamQuery, stream);
}

GPUPOOL_HANDLER(StreamWaitEvent) {
  const auto& [stream_id, event_id, flags] = in;
  CUstream stream = nullptr;
  CUevent event = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.Event(event_id, &event); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuStreamWaitEvent, stream, event, flags);
}

GPUPOOL_HANDLER(StreamGetPriority) {
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(std::get<0>(in), &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuStreamGetPriority, stream, &std::get<0>(*out));
}

GPUPOOL_HANDLER(StreamGetFlags) {
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(std::get<0>(in), &stream); r != CUDA_SUCCESS) return r;
  unsigned flags = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuStreamGetFlags, stream, &flags);
  std::get<0>(*out) = flags;
  return r;
}

GPUPOOL_HANDLER(StreamGetId) {
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(std::get<0>(in), &stream); r != CUDA_SUCCESS) return r;
  unsigned long long id = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuStreamGetId, stream, &id);
  std::get<0>(*out) = id;
  return r;
}

GPUPOOL_HANDLER(EventCreate) {
  CUevent event = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuEventCreate, &event, std::get<0>(in));
  if (r == CUDA_SUCCESS) std::get<0>(*out) = s.events.Add(event);
  return r;
}

GPUPOOL_HANDLER(EventDestroy) {
  CUevent event = nullptr;
  if (CUresult r = s.Event(std::get<0>(in), &event); r != CUDA_SUCCESS) return r;
  s.events.Remove(std::get<0>(in));
  s.WithdrawEventExport(std::get<0>(in));
  return GPUPOOL_DRIVER(s, cuEventDestroy_v2, event);
}

GPUPOOL_HANDLER(EventRecord) {
  CUevent event = nullptr;
  CUstream stream = nullptr;
  if (CUresult r = s.Event(std::get<0>(in), &event); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.Stream(std::get<1>(in), &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuEventRecord, event, stream);
}

GPUPOOL_HANDLER(EventRecordWithFlags) {
  const auto& [event_id, stream_id, flags] = in;
  CUevent event = nullptr;
  CUstream stream = nullptr;
  if (CUresult r = s.Event(event_id, &event); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuEventRecordWithFlags, event, stream, flags);
}

GPUPOOL_HANDLER(EventQuery) {
  CUevent event = nullptr;
  if (CUresult r = s.Event(std::get<0>(in), &event); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuEventQuery, event);
}

GPUPOOL_HANDLER(EventSynchronize) {
  CUevent event = nullptr;
  if (CUresult r = s.Event(std::get<0>(in), &event); r != CUDA_SUCCESS) return r;
  CUresult r = GPUPOOL_DRIVER(s, cuEventSynchronize, event);
  s.CollectKernels();
  return r;
}

GPUPOOL_HANDLER(EventElapsedTime) {
  CUevent start = nullptr, end = nullptr;
  if (CUresult r = s.Event(std::get<0>(in), &start); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.Event(std::get<1>(in), &end); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuEventElapsedTime_v2, &std::get<0>(*out), start, end);
}

}  // namespace gpupool::server
