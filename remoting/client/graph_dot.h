// cuGraphDebugDotPrint: a graph in Graphviz DOT, one node per graph node labelled with its kind
// and key parameters (kernel grid and block, copy extent, memset value, allocation size and
// address...), child graphs as clusters, and the graph's edges. The text is gpupool's own: CUDA's
// output format is not specified, only its purpose (reading a graph's shape).
//
// Thread-safety: takes each graph's mutex while reading it.
#pragma once

#include <cuda.h>

#include <string>

#include "remoting/client/graph.h"

namespace gpupool::client {

// CUDA's name of a node kind ("KERNEL", "MEMCPY", ...), or "UNKNOWN(<n>)".
std::string NodeTypeName(CUgraphNodeType type);
// The whole graph, child graphs included.
std::string GraphDot(Graph* graph);

}  // namespace gpupool::client
