// Stream capture (cuStreamBeginCapture ... cuStreamEndCapture): while a stream is captured, its
// asynchronous work becomes graph nodes instead of being sent. Each captured stream has a
// frontier, the nodes its next work depends on. An event recorded on a captured stream remembers
// that frontier, and a stream that waits on it joins the capture with it as its frontier: the
// fork/join pattern programs use to capture several streams into one graph. Ending the capture on
// its origin stream fails with CUDA_ERROR_STREAM_CAPTURE_UNJOINED unless every joined stream's
// work was joined back into the origin, as in CUDA.
//
// Thread-safety: a stream's capture and frontier are guarded by its capture_mu; a capture's
// members by its own mutex (taken after a stream's, never before).
#pragma once

#include <cuda.h>

#include <cstdint>
#include <memory>
#include <mutex>
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
};

// The capture `stream` is in, or null.
std::shared_ptr<Capture> CaptureOf(CUstream stream);

// Begins capturing `stream` into a new graph, or into `graph` after `deps` (BeginCaptureToGraph).
CUresult BeginCapture(CUstream stream, Graph* graph = nullptr, const GraphNode* const* deps = nullptr,
                      std::size_t count = 0);
// Ends the capture on its origin stream: the graph, or UNJOINED / UNMATCHED / ILLEGAL_STATE.
CUresult EndCapture(CUstream stream, Graph** out);

// When `stream` is captured: adds `work` after the stream's frontier, makes it the frontier,
// sets *result and returns true. Returns false (and does nothing) when it is not captured.
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
