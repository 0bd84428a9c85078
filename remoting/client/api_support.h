// Helpers shared by the exported driver functions (api_*.cpp).
//
// Thread-safety: as State.
#pragma once

#include <cuda.h>

#include "remoting/client/rpc.h"
#include "remoting/client/state.h"

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

// Initialised and connected, with a current context: its server id in *context.
inline CUresult ReadyWithContext(std::uint64_t* context) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return State::Get().CurrentId(context);
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

// The graph `stream` is being captured into, or null: asynchronous calls on a capturing stream are
// recorded (api_graph.cpp) instead of sent.
inline std::shared_ptr<Graph> CaptureOf(CUstream stream) {
  Stream* s = State::Get().streams.Find(stream);
  if (s == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(s->capture_mu);
  return s->capture;
}

// Records `node` when `stream` is capturing (*recorded = true), so the caller returns at once.
inline CUresult RecordIfCapturing(CUstream stream, std::function<CUresult(std::uint64_t)> node,
                                  bool* recorded) {
  std::shared_ptr<Graph> graph = CaptureOf(stream);
  *recorded = graph != nullptr;
  if (graph != nullptr) graph->nodes.push_back(std::move(node));
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
