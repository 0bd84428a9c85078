// Stream capture, instantiation, launch and update of CUDA graphs (graph.h, capture.h). Graphs
// live on the client: a launch replays the graph's nodes, in dependency order, on the stream it
// names, so the server sees the same calls the program would have made. Node-by-node building is
// api_graph_nodes.cpp.
#include <cstdio>
#include <cstring>
#include <map>

#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/client/graph_node_work.h"
#include "remoting/client/host_functions.h"
#include "remoting/client/user_objects.h"

using namespace gpupool::client;

namespace {

// After a launch's work: drops the references the launch held on the graph's user objects.
void ReleaseLaunchReferences(CUstream, CUresult, void* data) {
  std::unique_ptr<std::map<UserObject*, unsigned>> objects(
      static_cast<std::map<UserObject*, unsigned>*>(data));
  for (const auto& [object, count] : *objects) (void)ReleaseUserObject(object, count);
}

// A launch holds the graph's user objects until its work has run (user_objects.h): references
// taken now, dropped by a stream callback queued behind the launch (called even when the work
// failed). A launch into a stream capture becomes nodes of another graph and holds nothing.
CUresult HoldUserObjects(const ExecGraph& exec, const LaunchTarget& target) {
  std::map<UserObject*, unsigned> objects = ExecUserObjects(exec);
  if (objects.empty() || CaptureOf(target.stream) != nullptr) return CUDA_SUCCESS;
  for (const auto& [object, count] : objects) RetainUserObject(object, count);
  auto* held = new std::map<UserObject*, unsigned>(std::move(objects));
  HostCall call;
  call.callback = ReleaseLaunchReferences;
  call.stream = target.stream;
  call.user_data = held;
  const CUresult result = LaunchHost(target.stream, target.owner, target.context, target.wire, call);
  if (result != CUDA_SUCCESS) ReleaseLaunchReferences(target.stream, result, held);
  return result;
}

CUresult Launch(CUgraphExec handle, CUstream stream, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  ExecGraph* exec = FindExec(handle);
  if (exec == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  Stream* s = State::Get().streams.Find(stream);
  LaunchTarget target;
  target.stream = stream == nullptr && per_thread ? CU_STREAM_PER_THREAD : stream;
  target.owner = s != nullptr ? s->context : State::Current();
  target.context = context;
  target.wire = id;
  if (CaptureOf(target.stream) != nullptr && HasMemoryNodes(*exec)) {
    // Its steps would become nodes of the captured graph, but an allocation's address belongs to
    // the graph that made it (graph_memory.h).
    GPUPOOL_LOG_ONCE(kWarn, "graph launch with memory nodes into a capture")
        << "launching a graph with memory alloc or free nodes into a stream capture is not supported by "
           "gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  GPUPOOL_CU_RETURN_IF_ERROR(
      CheckGraphAllocations(*exec, (exec->flags & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH) != 0));
  GPUPOOL_CU_RETURN_IF_ERROR(RunExec(*exec, target));
  return HoldUserObjects(*exec, target);
}

CUresult InstantiateInto(CUgraphExec* out, CUgraph handle, unsigned long long flags, GraphNode** error_node) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Graph* graph = FindGraph(handle);
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Device launch is not supported; upload and priority are hints.
  constexpr unsigned long long kKnown = CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH |
                                        CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |
                                        CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;
  if ((flags & CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH) != 0) return CUDA_ERROR_NOT_SUPPORTED;
  if ((flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  std::unique_ptr<ExecGraph> exec;
  GPUPOOL_CU_RETURN_IF_ERROR(Instantiate(graph, &exec, error_node));
  exec->flags = flags;
  *out = reinterpret_cast<CUgraphExec>(State::Get().executables.Add(std::move(exec)));
  return CUDA_SUCCESS;
}

// The step of `exec` instantiated from `node`, which must be of `type`.
CUresult ExecStep(CUgraphExec exec_handle, CUgraphNode node_handle, CUgraphNodeType type,
                  ExecGraph::Step** out) {
  ExecGraph* exec = FindExec(exec_handle);
  GraphNode* node = FindNode(node_handle);
  if (exec == nullptr || node == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ExecGraph::Step* step = exec->Find(node);
  if (step == nullptr || step->work.type != type) return CUDA_ERROR_INVALID_VALUE;
  *out = step;
  return CUDA_SUCCESS;
}

template <typename Build>
CUresult SetExecWork(CUgraphExec exec, CUgraphNode node, CUgraphNodeType type, const Build& build) {
  ExecGraph::Step* step = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(ExecStep(exec, node, type, &step));
  NodeWork work;
  GPUPOOL_CU_RETURN_IF_ERROR(build(&work));
  step->work = std::move(work);
  return CUDA_SUCCESS;
}

CUresult CaptureStatus(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                       const CUgraphNode** deps, const CUgraphEdgeData** edges, size_t* count) {
  if (edges != nullptr) *edges = nullptr;  // every captured edge is a plain one
  return CaptureInfo(stream, status, id, graph, deps, count);
}

}  // namespace

GPUPOOL_API CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode mode) {
  return BeginCapture(stream, mode);
}
GPUPOOL_API CUresult cuStreamBeginCapture_v2_ptsz(CUstream stream, CUstreamCaptureMode mode) {
  return BeginCapture(stream, mode);
}
GPUPOOL_API CUresult cuStreamBeginCaptureToGraph(CUstream stream, CUgraph graph, const CUgraphNode* deps,
                                                 const CUgraphEdgeData*, size_t count,
                                                 CUstreamCaptureMode mode) {
  Graph* g = FindGraph(graph);
  if (g == nullptr || (count > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  return BeginCapture(stream, mode, g, reinterpret_cast<const GraphNode* const*>(deps), count);
}
GPUPOOL_API CUresult cuStreamBeginCaptureToGraph_ptsz(CUstream stream, CUgraph graph, const CUgraphNode* deps,
                                                      const CUgraphEdgeData* edges, size_t count,
                                                      CUstreamCaptureMode mode) {
  return cuStreamBeginCaptureToGraph(stream, graph, deps, edges, count, mode);
}
GPUPOOL_API CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (*mode != CU_STREAM_CAPTURE_MODE_GLOBAL && *mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      *mode != CU_STREAM_CAPTURE_MODE_RELAXED)
    return CUDA_ERROR_INVALID_VALUE;
  *mode = ExchangeCaptureMode(*mode);
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuStreamEndCapture(CUstream stream, CUgraph* graph) {
  Graph* g = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(EndCapture(stream, &g));
  *graph = reinterpret_cast<CUgraph>(g);
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuStreamEndCapture_ptsz(CUstream stream, CUgraph* graph) {
  return cuStreamEndCapture(stream, graph);
}
GPUPOOL_API CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus* status) {
  return CaptureInfo(stream, status, nullptr, nullptr, nullptr, nullptr);
}
GPUPOOL_API CUresult cuStreamIsCapturing_ptsz(CUstream stream, CUstreamCaptureStatus* status) {
  return CaptureInfo(stream, status, nullptr, nullptr, nullptr, nullptr);
}
GPUPOOL_API CUresult cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                               CUgraph* graph, const CUgraphNode** dependencies,
                                               size_t* count) {
  return CaptureStatus(stream, status, id, graph, dependencies, nullptr, count);
}
GPUPOOL_API CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies, size_t* count) {
  return CaptureStatus(stream, status, id, graph, dependencies, nullptr, count);
}
GPUPOOL_API CUresult cuStreamGetCaptureInfo_v3(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                               CUgraph* graph, const CUgraphNode** dependencies,
                                               const CUgraphEdgeData** edges, size_t* count) {
  return CaptureStatus(stream, status, id, graph, dependencies, edges, count);
}
GPUPOOL_API CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream stream, CUstreamCaptureStatus* status,
                                                    cuuint64_t* id, CUgraph* graph,
                                                    const CUgraphNode** dependencies,
                                                    const CUgraphEdgeData** edges, size_t* count) {
  return CaptureStatus(stream, status, id, graph, dependencies, edges, count);
}
GPUPOOL_API CUresult cuStreamUpdateCaptureDependencies_v2(CUstream stream, CUgraphNode* deps,
                                                          const CUgraphEdgeData*, size_t count,
                                                          unsigned int flags) {
  return UpdateCaptureDependencies(stream, deps, count, flags);
}
GPUPOOL_API CUresult cuStreamUpdateCaptureDependencies_v2_ptsz(CUstream stream, CUgraphNode* deps,
                                                               const CUgraphEdgeData*, size_t count,
                                                               unsigned int flags) {
  return UpdateCaptureDependencies(stream, deps, count, flags);
}

GPUPOOL_API CUresult cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph graph, unsigned long long flags) {
  return InstantiateInto(exec, graph, flags, nullptr);
}
GPUPOOL_API CUresult cuGraphInstantiateWithParams(CUgraphExec* exec, CUgraph graph,
                                                  CUDA_GRAPH_INSTANTIATE_PARAMS* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode* error_node = nullptr;
  const CUresult result = InstantiateInto(exec, graph, params->flags, &error_node);
  params->hErrNode_out = reinterpret_cast<CUgraphNode>(error_node);
  params->result_out = result == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS
                       : result == CUDA_ERROR_INVALID_VALUE && error_node != nullptr
                           ? CUDA_GRAPH_INSTANTIATE_INVALID_STRUCTURE
                           : CUDA_GRAPH_INSTANTIATE_ERROR;
  return result;
}
GPUPOOL_API CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec* exec, CUgraph graph,
                                                       CUDA_GRAPH_INSTANTIATE_PARAMS* params) {
  return cuGraphInstantiateWithParams(exec, graph, params);
}
GPUPOOL_API CUresult cuGraphExecGetFlags(CUgraphExec handle, cuuint64_t* flags) {
  ExecGraph* exec = FindExec(handle);
  if (exec == nullptr || flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = exec->flags;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  return Launch(exec, stream, false);
}
GPUPOOL_API CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream) {
  return Launch(exec, stream, true);
}
// The graph's work is prepared on the client at instantiation; there is nothing to move ahead.
GPUPOOL_API CUresult cuGraphUpload(CUgraphExec exec, CUstream) {
  return FindExec(exec) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
GPUPOOL_API CUresult cuGraphUpload_ptsz(CUgraphExec exec, CUstream stream) {
  return cuGraphUpload(exec, stream);
}

GPUPOOL_API CUresult cuGraphExecDestroy(CUgraphExec exec) {
  return State::Get().executables.Remove(exec) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
GPUPOOL_API CUresult cuGraphDestroy(CUgraph handle) {
  Graph* graph = FindGraph(handle);
  if (graph == nullptr || graph->owner != nullptr)
    return CUDA_ERROR_INVALID_VALUE;  // a child: its node owns it
  DestroyGraph(graph);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphExecUpdate_v2(CUgraphExec exec_handle, CUgraph graph_handle,
                                          CUgraphExecUpdateResultInfo* result) {
  ExecGraph* exec = FindExec(exec_handle);
  Graph* graph = FindGraph(graph_handle);
  if (exec == nullptr || graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return UpdateExec(exec, graph, result);
}

GPUPOOL_API CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec exec, CUgraphNode node,
                                                       const CUDA_KERNEL_NODE_PARAMS* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ExecGraph::Step* step = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(ExecStep(exec, node, CU_GRAPH_NODE_TYPE_KERNEL, &step));
  NodeWork work;
  GPUPOOL_CU_RETURN_IF_ERROR(KernelWork(*params, &work));
  // The step keeps the node's attributes, as in CUDA.
  if (step->work.kernel != nullptr && !step->work.kernel->attrs.empty())
    work = KernelWorkWithAttributes(*work.kernel, step->work.kernel->attrs);
  step->work = std::move(work);
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuGraphExecMemcpyNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                    const CUDA_MEMCPY3D* params, CUcontext) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return SetExecWork(exec, node, CU_GRAPH_NODE_TYPE_MEMCPY,
                     [&](NodeWork* w) { return MemcpyWork(*params, w); });
}
GPUPOOL_API CUresult cuGraphExecMemsetNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                    const CUDA_MEMSET_NODE_PARAMS* params, CUcontext) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return SetExecWork(exec, node, CU_GRAPH_NODE_TYPE_MEMSET,
                     [&](NodeWork* w) { return MemsetWork(*params, w); });
}
GPUPOOL_API CUresult cuGraphExecHostNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                  const CUDA_HOST_NODE_PARAMS* params) {
  if (params == nullptr || params->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return SetExecWork(exec, node, CU_GRAPH_NODE_TYPE_HOST, [&](NodeWork* w) {
    *w = HostWork(params->fn, params->userData);
    return CUDA_SUCCESS;
  });
}
GPUPOOL_API CUresult cuGraphExecEventRecordNodeSetEvent(CUgraphExec exec, CUgraphNode node, CUevent event) {
  return SetExecWork(exec, node, CU_GRAPH_NODE_TYPE_EVENT_RECORD,
                     [&](NodeWork* w) { return EventWork(CU_GRAPH_NODE_TYPE_EVENT_RECORD, event, w); });
}
GPUPOOL_API CUresult cuGraphExecEventWaitNodeSetEvent(CUgraphExec exec, CUgraphNode node, CUevent event) {
  return SetExecWork(exec, node, CU_GRAPH_NODE_TYPE_WAIT_EVENT,
                     [&](NodeWork* w) { return EventWork(CU_GRAPH_NODE_TYPE_WAIT_EVENT, event, w); });
}
GPUPOOL_API CUresult cuGraphExecChildGraphNodeSetParams(CUgraphExec exec_handle, CUgraphNode node,
                                                        CUgraph child_handle) {
  ExecGraph::Step* step = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(ExecStep(exec_handle, node, CU_GRAPH_NODE_TYPE_GRAPH, &step));
  Graph* child = FindGraph(child_handle);
  if (child == nullptr || step->child == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExecUpdateResultInfo ignored{};
  return UpdateExec(step->child.get(), child, &ignored) == CUDA_SUCCESS ? CUDA_SUCCESS
                                                                        : CUDA_ERROR_INVALID_VALUE;
}

// Only kernel, memcpy and memset nodes can be disabled, as in CUDA.
GPUPOOL_API CUresult cuGraphNodeSetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int enabled) {
  ExecGraph* e = FindExec(exec);
  GraphNode* n = FindNode(node);
  ExecGraph::Step* step = e != nullptr && n != nullptr ? e->Find(n) : nullptr;
  if (step == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUgraphNodeType type = step->work.type;
  if (type != CU_GRAPH_NODE_TYPE_KERNEL && type != CU_GRAPH_NODE_TYPE_MEMCPY &&
      type != CU_GRAPH_NODE_TYPE_MEMSET)
    return CUDA_ERROR_INVALID_VALUE;
  step->enabled = enabled != 0;
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuGraphNodeGetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int* enabled) {
  ExecGraph* e = FindExec(exec);
  GraphNode* n = FindNode(node);
  ExecGraph::Step* step = e != nullptr && n != nullptr ? e->Find(n) : nullptr;
  if (step == nullptr || enabled == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *enabled = step->enabled ? 1 : 0;
  return CUDA_SUCCESS;
}

// The CUDA 10-11 forms, whose names cuda.h now maps to the newer ones.
#undef cuGraphInstantiate
GPUPOOL_API CUresult cuGraphInstantiate(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node, char* log,
                                        size_t log_size) {
  GraphNode* failed = nullptr;
  const CUresult result = InstantiateInto(exec, graph, 0, &failed);
  if (error_node != nullptr) *error_node = reinterpret_cast<CUgraphNode>(failed);
  if (log != nullptr && log_size > 0) {
    const char* text = result == CUDA_SUCCESS ? "" : failed != nullptr ? "the graph has a cycle" : "";
    std::snprintf(log, log_size, "%s", text);
  }
  return result;
}
GPUPOOL_API CUresult cuGraphInstantiate_v2(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node,
                                           char* log, size_t log_size) {
  return cuGraphInstantiate(exec, graph, error_node, log, log_size);
}
#undef cuGraphExecUpdate
GPUPOOL_API CUresult cuGraphExecUpdate(CUgraphExec exec, CUgraph graph, CUgraphNode* error_node,
                                       CUgraphExecUpdateResult* result) {
  CUgraphExecUpdateResultInfo info{};
  const CUresult r = cuGraphExecUpdate_v2(exec, graph, &info);
  if (error_node != nullptr) *error_node = info.errorNode;
  if (result != nullptr) *result = info.result;
  return r;
}
#undef cuGraphExecKernelNodeSetParams
GPUPOOL_API CUresult cuGraphExecKernelNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                    const CUDA_KERNEL_NODE_PARAMS_v1* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS p{};
  std::memcpy(&p, params, sizeof *params);  // v1 is v2's leading fields
  return cuGraphExecKernelNodeSetParams_v2(exec, node, &p);
}
#undef cuStreamUpdateCaptureDependencies
GPUPOOL_API CUresult cuStreamUpdateCaptureDependencies(CUstream stream, CUgraphNode* deps, size_t count,
                                                       unsigned int flags) {
  return UpdateCaptureDependencies(stream, deps, count, flags);
}
GPUPOOL_API CUresult cuStreamUpdateCaptureDependencies_ptsz(CUstream stream, CUgraphNode* deps, size_t count,
                                                            unsigned int flags) {
  return UpdateCaptureDependencies(stream, deps, count, flags);
}
