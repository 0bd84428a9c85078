// Graphs built node by node (cuGraphCreate, cuGraphAdd*Node, edges, parameters, clones): the
// graph.h model, with each node's work from graph_work.h. Launch and update: api_graph.cpp.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/client/graph_dot.h"
#include "remoting/client/graph_node_work.h"

using namespace gpupool::client;

namespace {

const GraphNode* const* Nodes(const CUgraphNode* handles) {
  return reinterpret_cast<const GraphNode* const*>(handles);
}

CUgraphNode Handle(const GraphNode* node) {
  return reinterpret_cast<CUgraphNode>(const_cast<GraphNode*>(node));
}

// cuGraphAdd*Node: the graph, its dependencies and the node's work.
template <typename Build>
CUresult Add(CUgraphNode* out, CUgraph graph_handle, const CUgraphNode* deps, size_t count,
             const Build& build) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Graph* graph = FindGraph(graph_handle);
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  NodeWork work;
  GPUPOOL_CU_RETURN_IF_ERROR(build(&work));
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(AddNode(graph, Nodes(deps), count, std::move(work), &node));
  *out = Handle(node);
  return CUDA_SUCCESS;
}

// The node behind `handle` when it is of `type`.
CUresult Typed(CUgraphNode handle, CUgraphNodeType type, GraphNode** out) {
  GraphNode* node = FindNode(handle);
  if (node == nullptr || node->work.type != type) return CUDA_ERROR_INVALID_VALUE;
  *out = node;
  return CUDA_SUCCESS;
}

// cuGraph*NodeSetParams: the node gets new work of its own type.
template <typename Build>
CUresult Set(CUgraphNode handle, CUgraphNodeType type, const Build& build) {
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(Typed(handle, type, &node));
  NodeWork work;
  GPUPOOL_CU_RETURN_IF_ERROR(build(&work));
  std::lock_guard<std::mutex> lock(node->graph->mu);
  node->work = std::move(work);
  return CUDA_SUCCESS;
}

// cuGraph*NodeGetParams and *GetEvent: a copy of the node's parameter `field`.
template <typename T>
CUresult Get(CUgraphNode handle, CUgraphNodeType type, T NodeWork::*field, T* out) {
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(Typed(handle, type, &node));
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = node->work.*field;
  return CUDA_SUCCESS;
}

// Writes up to *count entries of `values` to `out` (when given) and the total to *count.
template <typename T>
CUresult List(const std::vector<T>& values, T* out, size_t* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (out != nullptr) {
    for (size_t i = 0; i < *count; ++i) out[i] = i < values.size() ? values[i] : T{};
  }
  *count = values.size();
  return CUDA_SUCCESS;
}

void ZeroEdges(CUgraphEdgeData* edges, size_t count, size_t written) {
  if (edges == nullptr) return;
  for (size_t i = 0; i < count && i < written; ++i) edges[i] = CUgraphEdgeData{};
}

// Edge lists as CUDA gives them: every (from, to) pair, in the order the nodes were added.
CUresult Edges(CUgraph handle, CUgraphNode* from, CUgraphNode* to, CUgraphEdgeData* edges, size_t* count) {
  Graph* graph = FindGraph(handle);
  if (graph == nullptr || count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> froms, tos;
  {
    std::lock_guard<std::mutex> lock(graph->mu);
    for (const GraphNode* node : graph->nodes) {
      for (const GraphNode* dep : node->deps) {
        froms.push_back(Handle(dep));
        tos.push_back(Handle(node));
      }
    }
  }
  if ((from == nullptr) != (to == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  const size_t room = *count;
  size_t n = room;
  GPUPOOL_CU_RETURN_IF_ERROR(List(froms, from, &n));
  n = room;
  GPUPOOL_CU_RETURN_IF_ERROR(List(tos, to, &n));
  ZeroEdges(edges, room, froms.size());
  *count = froms.size();
  return CUDA_SUCCESS;
}

CUresult Dependencies(CUgraphNode handle, CUgraphNode* out, CUgraphEdgeData* edges, size_t* count) {
  GraphNode* node = FindNode(handle);
  if (node == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> deps;
  {
    std::lock_guard<std::mutex> lock(node->graph->mu);
    for (const GraphNode* dep : node->deps) deps.push_back(Handle(dep));
  }
  const size_t room = count != nullptr ? *count : 0;
  GPUPOOL_CU_RETURN_IF_ERROR(List(deps, out, count));
  ZeroEdges(edges, room, deps.size());
  return CUDA_SUCCESS;
}

CUresult Dependents(CUgraphNode handle, CUgraphNode* out, CUgraphEdgeData* edges, size_t* count) {
  GraphNode* node = FindNode(handle);
  if (node == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> dependents;
  for (const GraphNode* d : DependentsOf(node->graph, node)) dependents.push_back(Handle(d));
  const size_t room = count != nullptr ? *count : 0;
  GPUPOOL_CU_RETURN_IF_ERROR(List(dependents, out, count));
  ZeroEdges(edges, room, dependents.size());
  return CUDA_SUCCESS;
}

// Adds (or removes) the edges from[i] -> to[i]; nothing changes when one of them is invalid.
CUresult ChangeEdges(CUgraph handle, const CUgraphNode* from, const CUgraphNode* to, size_t count, bool add) {
  Graph* graph = FindGraph(handle);
  if (graph == nullptr || (count > 0 && (from == nullptr || to == nullptr))) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::pair<GraphNode*, GraphNode*>> edges;
  for (size_t i = 0; i < count; ++i) {
    GraphNode* a = FindNode(from[i]);
    GraphNode* b = FindNode(to[i]);
    if (a == nullptr || b == nullptr || a == b || a->graph != graph || b->graph != graph)
      return CUDA_ERROR_INVALID_VALUE;
    edges.emplace_back(a, b);
  }
  std::lock_guard<std::mutex> lock(graph->mu);
  for (const auto& [a, b] : edges) {
    const bool present = std::find(b->deps.begin(), b->deps.end(), a) != b->deps.end();
    if (present == add) return CUDA_ERROR_INVALID_VALUE;  // a duplicate, or an edge that is not there
  }
  for (const auto& [a, b] : edges) {
    if (add) {
      b->deps.push_back(a);
    } else {
      b->deps.erase(std::find(b->deps.begin(), b->deps.end(), a));
    }
  }
  return CUDA_SUCCESS;
}

// A kernel node added with the node API. A captured launch is kept as the wire call it recorded,
// without parameters to give back or change.
CUresult KernelNode(CUgraphNode handle, GraphNode** out) {
  GPUPOOL_CU_RETURN_IF_ERROR(Typed(handle, CU_GRAPH_NODE_TYPE_KERNEL, out));
  if ((*out)->work.kernel != nullptr) return CUDA_SUCCESS;
  GPUPOOL_LOG_ONCE(kWarn, "captured kernel node parameters")
      << "the parameters and attributes of a kernel node made by stream capture cannot be read or changed "
         "through gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
  return CUDA_ERROR_NOT_SUPPORTED;
}

void KernelParamsOut(const NodeWork& work, CUDA_KERNEL_NODE_PARAMS* p) {
  const KernelLaunch& k = *work.kernel;
  *p = CUDA_KERNEL_NODE_PARAMS{};
  p->func = k.kernel != nullptr ? nullptr : k.function;
  p->kern = k.kernel;
  p->gridDimX = k.grid[0], p->gridDimY = k.grid[1], p->gridDimZ = k.grid[2];
  p->blockDimX = k.block[0], p->blockDimY = k.block[1], p->blockDimZ = k.block[2];
  p->sharedMemBytes = k.shared;
  // Pointers into the node's own copy of the arguments, valid while the node's parameters stand.
  p->kernelParams = k.given_as_extra ? nullptr : const_cast<void**>(k.pointers.data());
  p->extra = k.given_as_extra ? const_cast<void**>(k.extra.data()) : nullptr;
}

}  // namespace

GPUPOOL_API CUresult cuGraphCreate(CUgraph* graph, unsigned int flags) {
  if (graph == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *graph = reinterpret_cast<CUgraph>(NewGraph());
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphAddKernelNode_v2(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                             size_t count, const CUDA_KERNEL_NODE_PARAMS* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Add(node, graph, deps, count, [&](NodeWork* w) { return KernelWork(*params, w); });
}
GPUPOOL_API CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode handle, CUDA_KERNEL_NODE_PARAMS* params) {
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(KernelNode(handle, &node));
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  KernelParamsOut(node->work, params);
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode handle,
                                                   const CUDA_KERNEL_NODE_PARAMS* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(KernelNode(handle, &node));
  NodeWork work;
  GPUPOOL_CU_RETURN_IF_ERROR(KernelWork(*params, &work));
  std::lock_guard<std::mutex> lock(node->graph->mu);
  // The node's attributes stay, as in CUDA.
  if (!node->work.kernel->attrs.empty())
    work = KernelWorkWithAttributes(*work.kernel, node->work.kernel->attrs);
  node->work = std::move(work);
  return CUDA_SUCCESS;
}

namespace {

// Whether a kernel node may carry `id`: the launch attributes CUDA documents as valid for graph
// nodes. Device-updatable nodes belong to device-side graph launch, which gpupool does not support.
CUresult NodeAttribute(CUkernelNodeAttrID id) {
  switch (id) {
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
    case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING: return CUDA_SUCCESS;
    case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE:
      GPUPOOL_LOG_ONCE(kWarn, "CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE")
          << "device-updatable kernel nodes (device graph launch) are not supported by gpupool; returning "
             "CUDA_ERROR_NOT_SUPPORTED";
      return CUDA_ERROR_NOT_SUPPORTED;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace

// A node's attributes: those set, each once; an attribute never set reads as zero (CUDA's default
// for every node attribute).
GPUPOOL_API CUresult cuGraphKernelNodeGetAttribute(CUgraphNode handle, CUkernelNodeAttrID id,
                                                   CUkernelNodeAttrValue* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(NodeAttribute(id));
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(KernelNode(handle, &node));
  std::lock_guard<std::mutex> lock(node->graph->mu);
  *value = CUkernelNodeAttrValue{};
  for (const CUlaunchAttribute& a : node->work.kernel->attrs) {
    if (a.id == id) *value = a.value;
  }
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuGraphKernelNodeSetAttribute(CUgraphNode handle, CUkernelNodeAttrID id,
                                                   const CUkernelNodeAttrValue* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(NodeAttribute(id));
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(KernelNode(handle, &node));
  std::lock_guard<std::mutex> lock(node->graph->mu);
  std::vector<CUlaunchAttribute> attrs = node->work.kernel->attrs;
  std::erase_if(attrs, [id](const CUlaunchAttribute& a) { return a.id == id; });
  CUlaunchAttribute attr{};
  attr.id = id;
  attr.value = *value;
  attrs.push_back(attr);
  node->work = KernelWorkWithAttributes(*node->work.kernel, std::move(attrs));
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuGraphKernelNodeCopyAttributes(CUgraphNode dst_handle, CUgraphNode src_handle) {
  GraphNode *dst = nullptr, *src = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(KernelNode(dst_handle, &dst));
  GPUPOOL_CU_RETURN_IF_ERROR(KernelNode(src_handle, &src));
  std::vector<CUlaunchAttribute> attrs;
  {
    std::lock_guard<std::mutex> lock(src->graph->mu);
    attrs = src->work.kernel->attrs;
  }
  std::lock_guard<std::mutex> lock(dst->graph->mu);
  dst->work = KernelWorkWithAttributes(*dst->work.kernel, std::move(attrs));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphAddMemcpyNode(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                          size_t count, const CUDA_MEMCPY3D* params, CUcontext) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Add(node, graph, deps, count, [&](NodeWork* w) { return MemcpyWork(*params, w); });
}
GPUPOOL_API CUresult cuGraphMemcpyNodeGetParams(CUgraphNode handle, CUDA_MEMCPY3D* params) {
  return Get(handle, CU_GRAPH_NODE_TYPE_MEMCPY, &NodeWork::memcpy, params);
}
GPUPOOL_API CUresult cuGraphMemcpyNodeSetParams(CUgraphNode node, const CUDA_MEMCPY3D* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Set(node, CU_GRAPH_NODE_TYPE_MEMCPY, [&](NodeWork* w) { return MemcpyWork(*params, w); });
}

GPUPOOL_API CUresult cuGraphAddMemsetNode(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                          size_t count, const CUDA_MEMSET_NODE_PARAMS* params, CUcontext) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Add(node, graph, deps, count, [&](NodeWork* w) { return MemsetWork(*params, w); });
}
GPUPOOL_API CUresult cuGraphMemsetNodeGetParams(CUgraphNode handle, CUDA_MEMSET_NODE_PARAMS* params) {
  return Get(handle, CU_GRAPH_NODE_TYPE_MEMSET, &NodeWork::memset, params);
}
GPUPOOL_API CUresult cuGraphMemsetNodeSetParams(CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Set(node, CU_GRAPH_NODE_TYPE_MEMSET, [&](NodeWork* w) { return MemsetWork(*params, w); });
}

GPUPOOL_API CUresult cuGraphAddHostNode(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                        size_t count, const CUDA_HOST_NODE_PARAMS* params) {
  if (params == nullptr || params->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Add(node, graph, deps, count, [&](NodeWork* w) {
    *w = HostWork(params->fn, params->userData);
    return CUDA_SUCCESS;
  });
}
GPUPOOL_API CUresult cuGraphHostNodeGetParams(CUgraphNode handle, CUDA_HOST_NODE_PARAMS* params) {
  return Get(handle, CU_GRAPH_NODE_TYPE_HOST, &NodeWork::host, params);
}
GPUPOOL_API CUresult cuGraphHostNodeSetParams(CUgraphNode node, const CUDA_HOST_NODE_PARAMS* params) {
  if (params == nullptr || params->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Set(node, CU_GRAPH_NODE_TYPE_HOST, [&](NodeWork* w) {
    *w = HostWork(params->fn, params->userData);
    return CUDA_SUCCESS;
  });
}

GPUPOOL_API CUresult cuGraphAddEmptyNode(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                         size_t count) {
  return Add(node, graph, deps, count, [](NodeWork* w) {
    *w = NodeWork{};
    return CUDA_SUCCESS;
  });
}

// The child is copied into the node, as in CUDA: later changes to the program's graph do not reach it.
GPUPOOL_API CUresult cuGraphAddChildGraphNode(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                              size_t count, CUgraph child_handle) {
  Graph* child = FindGraph(child_handle);
  if (child == nullptr || child_handle == graph) return CUDA_ERROR_INVALID_VALUE;
  Graph* copy = nullptr;
  const CUresult result = Add(node, graph, deps, count, [&](NodeWork* w) {
    copy = CloneGraph(child);
    *w = ChildWork(copy);
    return CUDA_SUCCESS;
  });
  if (result != CUDA_SUCCESS && copy != nullptr) DestroyGraph(copy);
  return result;
}
GPUPOOL_API CUresult cuGraphChildGraphNodeGetGraph(CUgraphNode handle, CUgraph* graph) {
  GraphNode* node = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(Typed(handle, CU_GRAPH_NODE_TYPE_GRAPH, &node));
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *graph = reinterpret_cast<CUgraph>(node->work.child);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphAddEventRecordNode(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                               size_t count, CUevent event) {
  return Add(node, graph, deps, count,
             [&](NodeWork* w) { return EventWork(CU_GRAPH_NODE_TYPE_EVENT_RECORD, event, w); });
}
GPUPOOL_API CUresult cuGraphAddEventWaitNode(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                             size_t count, CUevent event) {
  return Add(node, graph, deps, count,
             [&](NodeWork* w) { return EventWork(CU_GRAPH_NODE_TYPE_WAIT_EVENT, event, w); });
}
GPUPOOL_API CUresult cuGraphEventRecordNodeGetEvent(CUgraphNode handle, CUevent* event) {
  return Get(handle, CU_GRAPH_NODE_TYPE_EVENT_RECORD, &NodeWork::event, event);
}
GPUPOOL_API CUresult cuGraphEventWaitNodeGetEvent(CUgraphNode handle, CUevent* event) {
  return Get(handle, CU_GRAPH_NODE_TYPE_WAIT_EVENT, &NodeWork::event, event);
}
GPUPOOL_API CUresult cuGraphEventRecordNodeSetEvent(CUgraphNode node, CUevent event) {
  return Set(node, CU_GRAPH_NODE_TYPE_EVENT_RECORD,
             [&](NodeWork* w) { return EventWork(CU_GRAPH_NODE_TYPE_EVENT_RECORD, event, w); });
}
GPUPOOL_API CUresult cuGraphEventWaitNodeSetEvent(CUgraphNode node, CUevent event) {
  return Set(node, CU_GRAPH_NODE_TYPE_WAIT_EVENT,
             [&](NodeWork* w) { return EventWork(CU_GRAPH_NODE_TYPE_WAIT_EVENT, event, w); });
}

GPUPOOL_API CUresult cuGraphNodeGetType(CUgraphNode handle, CUgraphNodeType* type) {
  GraphNode* node = FindNode(handle);
  if (node == nullptr || type == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *type = node->work.type;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphGetNodes(CUgraph handle, CUgraphNode* nodes, size_t* count) {
  Graph* graph = FindGraph(handle);
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> all;
  {
    std::lock_guard<std::mutex> lock(graph->mu);
    for (const GraphNode* node : graph->nodes) all.push_back(Handle(node));
  }
  return List(all, nodes, count);
}
GPUPOOL_API CUresult cuGraphGetRootNodes(CUgraph handle, CUgraphNode* nodes, size_t* count) {
  Graph* graph = FindGraph(handle);
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> roots;
  {
    std::lock_guard<std::mutex> lock(graph->mu);
    for (const GraphNode* node : graph->nodes) {
      if (node->deps.empty()) roots.push_back(Handle(node));
    }
  }
  return List(roots, nodes, count);
}
GPUPOOL_API CUresult cuGraphGetEdges_v2(CUgraph graph, CUgraphNode* from, CUgraphNode* to,
                                        CUgraphEdgeData* edges, size_t* count) {
  return Edges(graph, from, to, edges, count);
}
GPUPOOL_API CUresult cuGraphNodeGetDependencies_v2(CUgraphNode node, CUgraphNode* deps,
                                                   CUgraphEdgeData* edges, size_t* count) {
  return Dependencies(node, deps, edges, count);
}
GPUPOOL_API CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode node, CUgraphNode* dependents,
                                                     CUgraphEdgeData* edges, size_t* count) {
  return Dependents(node, dependents, edges, count);
}
// Edge data other than the default (full completion, no ports) changes nothing on one stream.
GPUPOOL_API CUresult cuGraphAddDependencies_v2(CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                                               const CUgraphEdgeData*, size_t count) {
  return ChangeEdges(graph, from, to, count, true);
}
GPUPOOL_API CUresult cuGraphRemoveDependencies_v2(CUgraph graph, const CUgraphNode* from,
                                                  const CUgraphNode* to, const CUgraphEdgeData*,
                                                  size_t count) {
  return ChangeEdges(graph, from, to, count, false);
}
GPUPOOL_API CUresult cuGraphDestroyNode(CUgraphNode handle) {
  GraphNode* node = FindNode(handle);
  if (node == nullptr) return CUDA_ERROR_INVALID_VALUE;
  DestroyNode(node);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphClone(CUgraph* clone, CUgraph original) {
  Graph* graph = FindGraph(original);
  if (clone == nullptr || graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *clone = reinterpret_cast<CUgraph>(CloneGraph(graph));
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuGraphNodeFindInClone(CUgraphNode* out, CUgraphNode original, CUgraph clone_handle) {
  Graph* clone = FindGraph(clone_handle);
  GraphNode* node = FindNode(original);
  if (out == nullptr || clone == nullptr || node == nullptr || clone->cloned_from != node->graph)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(clone->mu);
  for (const GraphNode* candidate : clone->nodes) {
    if (candidate->cloned_from == node) {
      *out = Handle(candidate);
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_VALUE;
}

// Writes GraphDot's text to `path`. The flags choose detail in CUDA's own format; gpupool always
// writes every node's key parameters, so any flag value is accepted.
GPUPOOL_API CUresult cuGraphDebugDotPrint(CUgraph handle, const char* path, unsigned int) {
  Graph* graph = FindGraph(handle);
  if (graph == nullptr || path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const std::string text = GraphDot(graph);
  std::FILE* f = std::fopen(path, "w");
  if (f == nullptr) return CUDA_ERROR_OPERATING_SYSTEM;
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  return written && closed ? CUDA_SUCCESS : CUDA_ERROR_OPERATING_SYSTEM;
}

// The CUDA 10-12.2 forms, whose names cuda.h now maps to the newer ones.
#undef cuGraphAddKernelNode
#undef cuGraphKernelNodeGetParams
#undef cuGraphKernelNodeSetParams
#undef cuGraphGetEdges
#undef cuGraphNodeGetDependencies
#undef cuGraphNodeGetDependentNodes
#undef cuGraphAddDependencies
#undef cuGraphRemoveDependencies

namespace {
// CUDA_KERNEL_NODE_PARAMS_v1 is the leading part of v2 (no kern, no ctx).
CUDA_KERNEL_NODE_PARAMS FromV1(const CUDA_KERNEL_NODE_PARAMS_v1& v1) {
  CUDA_KERNEL_NODE_PARAMS p{};
  std::memcpy(&p, &v1, sizeof v1);
  return p;
}
}  // namespace

GPUPOOL_API CUresult cuGraphAddKernelNode(CUgraphNode* node, CUgraph graph, const CUgraphNode* deps,
                                          size_t count, const CUDA_KERNEL_NODE_PARAMS_v1* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_KERNEL_NODE_PARAMS p = FromV1(*params);
  return cuGraphAddKernelNode_v2(node, graph, deps, count, &p);
}
GPUPOOL_API CUresult cuGraphKernelNodeGetParams(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS_v1* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS p{};
  GPUPOOL_CU_RETURN_IF_ERROR(cuGraphKernelNodeGetParams_v2(node, &p));
  if (p.func == nullptr) p.func = reinterpret_cast<CUfunction>(p.kern);
  std::memcpy(params, &p, sizeof *params);
  return CUDA_SUCCESS;
}
GPUPOOL_API CUresult cuGraphKernelNodeSetParams(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_KERNEL_NODE_PARAMS p = FromV1(*params);
  return cuGraphKernelNodeSetParams_v2(node, &p);
}
GPUPOOL_API CUresult cuGraphGetEdges(CUgraph graph, CUgraphNode* from, CUgraphNode* to, size_t* count) {
  return Edges(graph, from, to, nullptr, count);
}
GPUPOOL_API CUresult cuGraphNodeGetDependencies(CUgraphNode node, CUgraphNode* deps, size_t* count) {
  return Dependencies(node, deps, nullptr, count);
}
GPUPOOL_API CUresult cuGraphNodeGetDependentNodes(CUgraphNode node, CUgraphNode* dependents, size_t* count) {
  return Dependents(node, dependents, nullptr, count);
}
GPUPOOL_API CUresult cuGraphAddDependencies(CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                                            size_t count) {
  return ChangeEdges(graph, from, to, count, true);
}
GPUPOOL_API CUresult cuGraphRemoveDependencies(CUgraph graph, const CUgraphNode* from, const CUgraphNode* to,
                                               size_t count) {
  return ChangeEdges(graph, from, to, count, false);
}
