// Stream capture (cuStreamBeginCapture ... cuStreamEndCapture): while a stream is captured, its
// asynchronous work becomes graph nodes instead of being sent. Each captured stream has a
// frontier, the nodes its next work depends on. An event recorded on a captured stream remembers
// that frontier, and a stream that waits on it joins the capture with it as its frontier: the
// fork/join pattern programs use to capture several streams into one graph. Ending the capture on
// its origin stream fails with CUDA_ERROR_STREAM_CAPTURE_UNJOINED unless every joined stream's
// work was joined back into the origin, as in CUDA.
//
// Capture modes (CUDA's rule for "potentially unsafe" calls): a capture begun in GLOBAL mode
// forbids them on every thread whose own mode (cuThreadExchangeStreamCaptureMode) is GLOBAL; a
// GLOBAL or THREAD_LOCAL capture forbids them on the thread that began it unless that thread's
// mode is RELAXED; RELAXED captures forbid nothing. A forbidden call fails with
// CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidates the captures that forbade it (their end
// fails with CUDA_ERROR_STREAM_CAPTURE_INVALIDATED). The calls checked (CheckUnsafeCall) are listed
// in remoting/client/README.md.
//
// Thread-safety: a stream's capture and frontier are guarded by its capture_mu; a capture's
// members by its own mutex (taken after a stream's, never before).
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "remoting/client/graph.h"

namespace gpupool::client {

struct Stream;
struct Event;

struct Capture {
  Graph* graph = nullptr;
  bool owns_graph = true;  // false for cuStreamBeginCaptureToGraph: the program's graph
  CUstream origin = nullptr;
  std::uint64_t id = 0;
  std::mutex mu;                  // guards members and ended
  std::vector<CUstream> members;  // every stream in the capture, the origin first
  bool ended = false;
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  std::thread::id thread;  // the thread that began it
  std::atomic<bool> invalidated{false};
};

// Whether a capture in `capture_mode`, begun on this thread or not (`same_thread`), forbids
// potentially unsafe calls on a thread whose mode is `thread_mode`.
bool ForbidsUnsafeCalls(CUstreamCaptureMode capture_mode, bool same_thread, CUstreamCaptureMode thread_mode);
// cuThreadExchangeStreamCaptureMode: sets the calling thread's mode, returns the previous one.
CUstreamCaptureMode ExchangeCaptureMode(CUstreamCaptureMode mode);
// Before a potentially unsafe call: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED when a capture going on
// forbids it (that capture is then invalidated), else CUDA_SUCCESS. One atomic load when no
// capture is going on.
CUresult CheckUnsafeCall();
// cuEventQuery / cuEventSynchronize: CUDA_ERROR_CAPTURED_EVENT when the event was last recorded
// in a capture that is still going (it stands for a graph node, not for work sent).
CUresult CheckNotCapturedEvent(Event* event);
// cuStreamSynchronize / cuStreamQuery: on a captured stream CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
// and the capture is invalidated, as in CUDA (in any mode).
CUresult CheckNotCaptured(CUstream stream);

// The capture `stream` is in, or null.
std::shared_ptr<Capture> CaptureOf(CUstream stream);

// Begins capturing `stream` in `mode` into a new graph, or into `graph` after `deps`
// (BeginCaptureToGraph).
CUresult BeginCapture(CUstream stream, CUstreamCaptureMode mode, Graph* graph = nullptr,
                      const GraphNode* const* deps = nullptr, std::size_t count = 0);
// Ends the capture on its origin stream: the graph, or UNJOINED / UNMATCHED / ILLEGAL_STATE /
// INVALIDATED.
CUresult EndCapture(CUstream stream, Graph** out);

// When `stream` is captured: adds `work` after the stream's frontier, makes it the frontier,
// sets *result and returns true (*result is CUDA_ERROR_STREAM_CAPTURE_INVALIDATED for an
// invalidated capture). Returns false (and does nothing) when it is not captured.
bool CaptureWork(CUstream stream, NodeWork work, CUresult* result);

// cuEventRecord on a captured stream: the event remembers the stream's frontier. False when the
// stream is not captured.
bool CaptureRecord(CUstream stream, Event* event);
// cuStreamWaitEvent on an event recorded during a capture: `stream` joins that capture (or, in it
// already, adds the event's nodes to its frontier). False when the event was not recorded during
// a capture that is still going; *result otherwise.
bool CaptureWait(CUstream stream, Event* event, CUresult* result);

// The frontier of a captured stream (cuStreamGetCaptureInfo); valid until its next captured work.
CUresult CaptureInfo(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                     const CUgraphNode** deps, std::size_t* count);
// cuStreamUpdateCaptureDependencies: replaces (CU_STREAM_SET_CAPTURE_DEPENDENCIES) or extends
// (CU_STREAM_ADD_CAPTURE_DEPENDENCIES) the frontier.
CUresult UpdateCaptureDependencies(CUstream stream, CUgraphNode* deps, std::size_t count, unsigned flags);

}  // namespace gpupool::client
