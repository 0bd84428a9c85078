#include "remoting/client/graph_dot.h"

#include <sstream>
#include <unordered_map>

namespace gpupool::client {
namespace {

std::string Hex(unsigned long long value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

// The node's parameters as label lines (DOT's "\n" inside a quoted label).
std::string Params(const NodeWork& w) {
  std::ostringstream out;
  switch (w.type) {
    case CU_GRAPH_NODE_TYPE_KERNEL:
      if (w.kernel == nullptr) {
        out << "\\ncaptured launch";
        break;
      }
      out << "\\nfunction " << Hex(reinterpret_cast<std::uintptr_t>(w.kernel->function)) << "\\ngrid "
          << w.kernel->grid[0] << "x" << w.kernel->grid[1] << "x" << w.kernel->grid[2] << " block "
          << w.kernel->block[0] << "x" << w.kernel->block[1] << "x" << w.kernel->block[2] << "\\nshared "
          << w.kernel->shared << " attributes " << w.kernel->attrs.size();
      break;
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      if (w.memcpy.WidthInBytes == 0) break;  // captured: the wire call only
      out << "\\nextent " << w.memcpy.WidthInBytes << "x" << w.memcpy.Height << "x" << w.memcpy.Depth;
      break;
    case CU_GRAPH_NODE_TYPE_MEMSET:
      if (w.memset.dst == 0) break;  // captured
      out << "\\ndst " << Hex(w.memset.dst) << " value " << w.memset.value << "\\n"
          << w.memset.width << "x" << w.memset.height << " of " << w.memset.elementSize << " bytes";
      break;
    case CU_GRAPH_NODE_TYPE_HOST:
      out << "\\nfunction " << Hex(reinterpret_cast<std::uintptr_t>(w.host.fn)) << " data "
          << Hex(reinterpret_cast<std::uintptr_t>(w.host.userData));
      break;
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
      if (w.event != nullptr) out << "\\nevent " << Hex(reinterpret_cast<std::uintptr_t>(w.event));
      break;
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
      out << "\\n" << w.alloc.bytesize << " bytes at " << Hex(w.alloc.dptr);
      break;
    case CU_GRAPH_NODE_TYPE_MEM_FREE: out << "\\nfree " << Hex(w.free_ptr); break;
    default: break;
  }
  return out.str();
}

// Writes `graph`'s nodes and edges; node names are "<prefix><position>".
void Write(Graph* graph, const std::string& prefix, std::ostringstream& out) {
  std::lock_guard<std::mutex> lock(graph->mu);
  std::unordered_map<const GraphNode*, std::string> names;
  for (std::size_t i = 0; i < graph->nodes.size(); ++i) names[graph->nodes[i]] = prefix + std::to_string(i);
  for (std::size_t i = 0; i < graph->nodes.size(); ++i) {
    const GraphNode* node = graph->nodes[i];
    const std::string& name = names[node];
    out << "  \"" << name << "\" [label=\"" << name << " " << NodeTypeName(node->work.type)
        << Params(node->work) << "\"];\n";
    if (node->work.child != nullptr) {
      out << "  subgraph \"cluster_" << name << "\" {\n  label=\"child graph of " << name << "\";\n";
      Write(node->work.child, name + "_", out);
      out << "  }\n";
    }
  }
  for (const GraphNode* node : graph->nodes) {
    for (const GraphNode* dep : node->deps)
      out << "  \"" << names[dep] << "\" -> \"" << names[node] << "\";\n";
  }
}

}  // namespace

std::string NodeTypeName(CUgraphNodeType type) {
  switch (type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: return "KERNEL";
    case CU_GRAPH_NODE_TYPE_MEMCPY: return "MEMCPY";
    case CU_GRAPH_NODE_TYPE_MEMSET: return "MEMSET";
    case CU_GRAPH_NODE_TYPE_HOST: return "HOST";
    case CU_GRAPH_NODE_TYPE_GRAPH: return "GRAPH";
    case CU_GRAPH_NODE_TYPE_EMPTY: return "EMPTY";
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return "WAIT_EVENT";
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return "EVENT_RECORD";
    case CU_GRAPH_NODE_TYPE_EXT_SEMAS_SIGNAL: return "EXT_SEMAS_SIGNAL";
    case CU_GRAPH_NODE_TYPE_EXT_SEMAS_WAIT: return "EXT_SEMAS_WAIT";
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: return "MEM_ALLOC";
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return "MEM_FREE";
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: return "BATCH_MEM_OP";
    case CU_GRAPH_NODE_TYPE_CONDITIONAL: return "CONDITIONAL";
  }
  return "UNKNOWN(" + std::to_string(static_cast<int>(type)) + ")";
}

std::string GraphDot(Graph* graph) {
  std::ostringstream out;
  out << "digraph gpupool_graph {\n  node [shape=box];\n";
  Write(graph, "n", out);
  out << "}\n";
  return out.str();
}

}  // namespace gpupool::client
