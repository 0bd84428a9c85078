// The generic node API (cuGraphAddNode, cuGraphNodeSetParams, cuGraphExecNodeSetParams): each
// dispatches on CUgraphNodeParams.type to the per-kind entry point, so a node made either way is
// the same node. Kinds gpupool does not support (external semaphores, batch memory operations,
// conditional nodes) answer CUDA_ERROR_NOT_SUPPORTED with the kind logged once.
#include <cstring>

#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/client/graph_dot.h"

using namespace gpupool::client;

namespace {

CUresult Unsupported(const char* call, CUgraphNodeType type) {
  const std::string kind = NodeTypeName(type);
  GPUPOOL_LOG_ONCE(kWarn, std::string(call) + " " + kind)
      << call << " with a " << kind
      << " node is not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
  return CUDA_ERROR_NOT_SUPPORTED;
}

// Only plain edges: programmatic (port) edges belong to programmatic dependent launch.
CUresult PlainEdges(const CUgraphEdgeData* edges, size_t count) {
  if (edges == nullptr) return CUDA_SUCCESS;
  for (size_t i = 0; i < count; ++i) {
    const CUgraphEdgeData& e = edges[i];
    if (e.from_port != 0 || e.to_port != 0 || e.type != CU_GRAPH_DEPENDENCY_TYPE_DEFAULT) {
      GPUPOOL_LOG_ONCE(kWarn, "programmatic graph edges")
          << "programmatic graph edges are not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
      return CUDA_ERROR_NOT_SUPPORTED;
    }
  }
  return CUDA_SUCCESS;
}

// The generic kernel parameters (v3) are laid out as CUDA_KERNEL_NODE_PARAMS (v2).
CUDA_KERNEL_NODE_PARAMS Kernel(const CUgraphNodeParams& p) {
  static_assert(sizeof(CUDA_KERNEL_NODE_PARAMS_v3) == sizeof(CUDA_KERNEL_NODE_PARAMS));
  CUDA_KERNEL_NODE_PARAMS k{};
  std::memcpy(&k, &p.kernel, sizeof k);
  return k;
}

CUDA_MEMSET_NODE_PARAMS Memset(const CUgraphNodeParams& p) {
  const CUDA_MEMSET_NODE_PARAMS_v2& m = p.memset;
  CUDA_MEMSET_NODE_PARAMS out{};
  out.dst = m.dst;
  out.pitch = m.pitch;
  out.value = m.value;
  out.elementSize = m.elementSize;
  out.width = m.width;
  out.height = m.height;
  return out;
}

CUresult CheckMemcpy(const CUgraphNodeParams& p) {
  return p.memcpy.flags == 0 && p.memcpy.reserved == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// The node behind `handle`, whose kind must be the parameters' kind.
CUresult SameKind(CUgraphNode handle, const CUgraphNodeParams* p) {
  GraphNode* node = FindNode(handle);
  if (node == nullptr || p == nullptr || node->work.type != p->type) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuGraphAddNode_v2(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps,
                                       const CUgraphEdgeData* edges, size_t count, CUgraphNodeParams* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(PlainEdges(edges, count));
  switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      const CUDA_KERNEL_NODE_PARAMS k = Kernel(*p);
      return cuGraphAddKernelNode_v2(out, graph, deps, count, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      GPUPOOL_CU_RETURN_IF_ERROR(CheckMemcpy(*p));
      return cuGraphAddMemcpyNode(out, graph, deps, count, &p->memcpy.copyParams, p->memcpy.copyCtx);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      const CUDA_MEMSET_NODE_PARAMS m = Memset(*p);
      return cuGraphAddMemsetNode(out, graph, deps, count, &m, p->memset.ctx);
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
      const CUDA_HOST_NODE_PARAMS h{p->host.fn, p->host.userData};
      return cuGraphAddHostNode(out, graph, deps, count, &h);
    }
    case CU_GRAPH_NODE_TYPE_GRAPH:
      // MOVE would make the program's graph the node's own; gpupool's nodes own a copy.
      if (p->graph.ownership != CU_GRAPH_CHILD_GRAPH_OWNERSHIP_CLONE)
        return Unsupported("cuGraphAddNode (child graph ownership MOVE)", p->type);
      return cuGraphAddChildGraphNode(out, graph, deps, count, p->graph.graph);
    case CU_GRAPH_NODE_TYPE_EMPTY: return cuGraphAddEmptyNode(out, graph, deps, count);
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
      return cuGraphAddEventRecordNode(out, graph, deps, count, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
      return cuGraphAddEventWaitNode(out, graph, deps, count, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: {
      static_assert(sizeof(CUDA_MEM_ALLOC_NODE_PARAMS_v2) == sizeof(CUDA_MEM_ALLOC_NODE_PARAMS));
      CUDA_MEM_ALLOC_NODE_PARAMS a{};
      std::memcpy(&a, &p->alloc, sizeof a);
      const CUresult result = cuGraphAddMemAllocNode(out, graph, deps, count, &a);
      p->alloc.dptr = a.dptr;
      return result;
    }
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return cuGraphAddMemFreeNode(out, graph, deps, count, p->free.dptr);
    default: return Unsupported("cuGraphAddNode", p->type);
  }
}

// The CUDA 12.2 form, without edge data; cuda.h maps the name to the newer one.
#undef cuGraphAddNode
GPUPOOL_API CUresult cuGraphAddNode(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps, size_t count,
                                    CUgraphNodeParams* p) {
  return cuGraphAddNode_v2(out, graph, deps, nullptr, count, p);
}

// Memory alloc and free nodes, empty nodes and child graph nodes cannot change (CUDA: invalid).
GPUPOOL_API CUresult cuGraphNodeSetParams(CUgraphNode node, CUgraphNodeParams* p) {
  GPUPOOL_CU_RETURN_IF_ERROR(SameKind(node, p));
  switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      const CUDA_KERNEL_NODE_PARAMS k = Kernel(*p);
      return cuGraphKernelNodeSetParams_v2(node, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      GPUPOOL_CU_RETURN_IF_ERROR(CheckMemcpy(*p));
      return cuGraphMemcpyNodeSetParams(node, &p->memcpy.copyParams);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      const CUDA_MEMSET_NODE_PARAMS m = Memset(*p);
      return cuGraphMemsetNodeSetParams(node, &m);
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
      const CUDA_HOST_NODE_PARAMS h{p->host.fn, p->host.userData};
      return cuGraphHostNodeSetParams(node, &h);
    }
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return cuGraphEventRecordNodeSetEvent(node, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return cuGraphEventWaitNodeSetEvent(node, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_GRAPH:
    case CU_GRAPH_NODE_TYPE_EMPTY:
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return CUDA_ERROR_INVALID_VALUE;
    default: return Unsupported("cuGraphNodeSetParams", p->type);
  }
}

GPUPOOL_API CUresult cuGraphExecNodeSetParams(CUgraphExec exec, CUgraphNode node, CUgraphNodeParams* p) {
  GPUPOOL_CU_RETURN_IF_ERROR(SameKind(node, p));
  switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      const CUDA_KERNEL_NODE_PARAMS k = Kernel(*p);
      return cuGraphExecKernelNodeSetParams_v2(exec, node, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      GPUPOOL_CU_RETURN_IF_ERROR(CheckMemcpy(*p));
      return cuGraphExecMemcpyNodeSetParams(exec, node, &p->memcpy.copyParams, p->memcpy.copyCtx);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      const CUDA_MEMSET_NODE_PARAMS m = Memset(*p);
      return cuGraphExecMemsetNodeSetParams(exec, node, &m, p->memset.ctx);
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
      const CUDA_HOST_NODE_PARAMS h{p->host.fn, p->host.userData};
      return cuGraphExecHostNodeSetParams(exec, node, &h);
    }
    case CU_GRAPH_NODE_TYPE_GRAPH: return cuGraphExecChildGraphNodeSetParams(exec, node, p->graph.graph);
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
      return cuGraphExecEventRecordNodeSetEvent(exec, node, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
      return cuGraphExecEventWaitNodeSetEvent(exec, node, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_EMPTY:
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return CUDA_ERROR_INVALID_VALUE;
    default: return Unsupported("cuGraphExecNodeSetParams", p->type);
  }
}
