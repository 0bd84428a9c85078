// Stream capture and graphs, on the client: while a stream is captured its asynchronous operations
// (copies, memsets, launches, host functions) are recorded instead of sent
// (api_support.h, SubmitOp; host_functions.h); a graph launch replays them, in order, on the
// stream it names, host nodes as host steps in stream order. Enough for the runtime's
// cudaStreamBeginCapture / cudaGraphInstantiate / cudaGraphLaunch; graphs built node by node
// (cuGraphAdd*Node) are not supported.
#include "remoting/client/api_support.h"
#include "remoting/client/host_functions.h"

using namespace gpupool::client;

namespace {

CUresult BeginCapture(CUstream handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Stream* stream = State::Get().streams.Find(handle);
  if (stream == nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;  // NULL and default streams
  std::lock_guard<std::mutex> lock(stream->capture_mu);
  if (stream->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  stream->capture = std::make_shared<Graph>();
  return CUDA_SUCCESS;
}

CUresult EndCapture(CUstream handle, CUgraph* graph) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Stream* stream = State::Get().streams.Find(handle);
  if (stream == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  std::shared_ptr<Graph> captured;
  {
    std::lock_guard<std::mutex> lock(stream->capture_mu);
    captured = std::move(stream->capture);
  }
  if (captured == nullptr) return CUDA_ERROR_ILLEGAL_STATE;  // no capture was begun
  *graph = reinterpret_cast<CUgraph>(State::Get().graphs.Add(std::make_unique<Graph>(*captured)));
  return CUDA_SUCCESS;
}

CUresult IsCapturing(CUstream handle, CUstreamCaptureStatus* status) {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *status = CaptureOf(handle) != nullptr ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

CUresult CaptureInfo(CUstream handle, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                     const CUgraphNode** dependencies, size_t* count) {
  GPUPOOL_CU_RETURN_IF_ERROR(IsCapturing(handle, status));
  if (id != nullptr) *id = reinterpret_cast<std::uintptr_t>(CaptureOf(handle).get());
  if (graph != nullptr) *graph = nullptr;
  if (dependencies != nullptr) *dependencies = nullptr;
  if (count != nullptr) *count = 0;
  return CUDA_SUCCESS;
}

CUresult Launch(CUgraphExec handle, CUstream stream, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  Graph* exec = State::Get().executables.Find(handle);
  if (exec == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  Stream* s = State::Get().streams.Find(stream);
  Context* owner = s != nullptr ? s->context : State::Current();
  for (const GraphNode& node : exec->nodes) {
    if (node.host != nullptr) {
      GPUPOOL_CU_RETURN_IF_ERROR(
          LaunchHost(stream, owner, context, id, {node.host, nullptr, stream, node.user_data}));
    } else {
      GPUPOOL_CU_RETURN_IF_ERROR(SubmitOp(stream, context, id, node.send));
    }
  }
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode) {
  return BeginCapture(stream);
}
GPUPOOL_API CUresult cuStreamBeginCapture_v2_ptsz(CUstream stream, CUstreamCaptureMode) {
  return BeginCapture(stream);
}
GPUPOOL_API CUresult cuStreamEndCapture(CUstream stream, CUgraph* graph) {
  return EndCapture(stream, graph);
}
GPUPOOL_API CUresult cuStreamEndCapture_ptsz(CUstream stream, CUgraph* graph) {
  return EndCapture(stream, graph);
}
GPUPOOL_API CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus* status) {
  return IsCapturing(stream, status);
}
GPUPOOL_API CUresult cuStreamIsCapturing_ptsz(CUstream stream, CUstreamCaptureStatus* status) {
  return IsCapturing(stream, status);
}
GPUPOOL_API CUresult cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                               CUgraph* graph, const CUgraphNode** dependencies,
                                               size_t* count) {
  return CaptureInfo(stream, status, id, graph, dependencies, count);
}
GPUPOOL_API CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies, size_t* count) {
  return CaptureInfo(stream, status, id, graph, dependencies, count);
}
GPUPOOL_API CUresult cuStreamGetCaptureInfo_v3(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                               CUgraph* graph, const CUgraphNode** dependencies,
                                               const CUgraphEdgeData** edges, size_t* count) {
  if (edges != nullptr) *edges = nullptr;
  return CaptureInfo(stream, status, id, graph, dependencies, count);
}
GPUPOOL_API CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies,
                                                    const CUgraphEdgeData** edges, size_t* count) {
  if (edges != nullptr) *edges = nullptr;
  return CaptureInfo(stream, status, id, graph, dependencies, count);
}

// Node handles are opaque tokens: no node-level call is supported, so none is ever dereferenced.
GPUPOOL_API CUresult cuGraphGetNodes(CUgraph handle, CUgraphNode* nodes, size_t* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Graph* graph = State::Get().graphs.Find(handle);
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (nodes != nullptr) {
    for (size_t i = 0; i < *count && i < graph->nodes.size(); ++i) {
      nodes[i] = reinterpret_cast<CUgraphNode>(reinterpret_cast<std::uintptr_t>(graph) + i + 1);
    }
  }
  *count = graph->nodes.size();
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph handle, unsigned long long) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Graph* graph = State::Get().graphs.Find(handle);
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *exec = reinterpret_cast<CUgraphExec>(State::Get().executables.Add(std::make_unique<Graph>(*graph)));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  return Launch(exec, stream, false);
}
GPUPOOL_API CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream) {
  return Launch(exec, stream, true);
}

GPUPOOL_API CUresult cuGraphExecDestroy(CUgraphExec exec) {
  return State::Get().executables.Remove(exec) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

GPUPOOL_API CUresult cuGraphDestroy(CUgraph graph) {
  return State::Get().graphs.Remove(graph) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
