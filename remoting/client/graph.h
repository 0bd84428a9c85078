// CUDA graphs, kept on the client: a graph is a DAG of nodes, built node by node (cuGraphAdd*Node,
// api_graph_nodes.cpp) or by stream capture (capture.h). Instantiating one orders its nodes
// topologically (stable: among ready nodes, the one added first) and a launch replays them in that
// order on the stream it names, through the same paths as the program's own calls: captured
// operations as the wire calls they recorded, node-API nodes as the driver call their parameters
// describe (a kernel node is a cuLaunchKernel with the arguments copied when the node was set).
// One stream runs the whole graph, so every dependency holds; branches of the graph do not overlap
// on the GPU (a cost, not a difference a program can observe: CUDA promises no overlap either).
//
// Handles: a CUgraph is a Graph*, a CUgraphNode a GraphNode* and a CUgraphExec an ExecGraph*, all
// known to State's registries, so a stale or made-up handle is an error, never a dereference.
//
// Thread-safety: a graph's structure is guarded by its mutex (stream capture may add nodes from
// several threads); as in CUDA, a program must not change a graph while instantiating it.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gpupool::client {

struct Context;
struct Graph;
struct GraphAllocHold;
struct UserObject;

// Where a launch runs: the program's stream handle (CU_STREAM_PER_THREAD for a per-thread launch
// on the NULL stream), its context and its wire ids.
struct LaunchTarget {
  CUstream stream = nullptr;
  Context* owner = nullptr;
  std::uint64_t context = 0;
  std::uint64_t wire = 0;
};

// A kernel node's launch, with copies of its arguments (CUDA copies them when the node is set).
struct KernelLaunch {
  CUfunction function = nullptr;
  CUkernel kernel = nullptr;  // as given, for GetParams
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned shared = 0;
  std::string bytes;            // the packed arguments
  std::vector<void*> pointers;  // kernelParams form: one pointer per parameter, into `bytes`
  std::vector<void*> extra;     // extra form: the buffer-pointer list, into `bytes`
  std::size_t extra_size = 0;   // what `extra` points CU_LAUNCH_PARAM_BUFFER_SIZE at
  bool given_as_extra = false;
  // Kernel node attributes (cuGraphKernelNodeSetAttribute), one per id: the launch goes through
  // cuLaunchKernelEx with them when there are any.
  std::vector<CUlaunchAttribute> attrs;
};

// What a node does and the parameters the Get*Params calls return.
struct NodeWork {
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  std::function<CUresult(const LaunchTarget&)> run;  // null: nothing to do (empty node)
  std::shared_ptr<KernelLaunch> kernel;              // KERNEL
  CUDA_MEMCPY3D memcpy{};                            // MEMCPY
  CUDA_MEMSET_NODE_PARAMS memset{};                  // MEMSET
  CUDA_HOST_NODE_PARAMS host{};                      // HOST
  CUevent event = nullptr;                           // EVENT_RECORD, WAIT_EVENT
  Graph* child = nullptr;                            // GRAPH: the node's own copy, owned by the node
  CUDA_MEM_ALLOC_NODE_PARAMS alloc{};                // MEM_ALLOC (dptr set, no access descriptors)
  std::shared_ptr<const GraphAllocHold> allocation;  // MEM_ALLOC: keeps the memory (graph_memory.h)
  CUdeviceptr free_ptr = 0;                          // MEM_FREE
};

struct GraphNode {
  Graph* graph = nullptr;
  std::vector<GraphNode*> deps;  // incoming edges, in the order they were added
  NodeWork work;
  GraphNode* cloned_from = nullptr;  // cuGraphNodeFindInClone
};

struct Graph {
  std::mutex mu;                  // guards nodes and every node's deps
  std::vector<GraphNode*> nodes;  // in the order they were added; owned by State::graph_nodes
  GraphNode* owner = nullptr;     // a child graph: the node that owns it
  Graph* cloned_from = nullptr;
  std::map<UserObject*, unsigned> user_objects;  // references the graph holds (user_objects.h)
};

// An instantiated graph: its nodes' work in launch order. Steps are found by the node of the
// graph they were instantiated from (cuGraphExec*SetParams take those nodes).
struct ExecGraph {
  struct Step {
    const GraphNode* origin = nullptr;
    NodeWork work;
    std::unique_ptr<ExecGraph> child;  // GRAPH nodes: the child, instantiated
    bool enabled = true;
  };
  std::vector<Step> steps;
  // Each step's dependencies as positions in `steps`: the shape cuGraphExecUpdate compares (kept
  // here because the graph it came from may be destroyed meanwhile).
  std::vector<std::vector<std::size_t>> shape;
  unsigned long long flags = 0;
  // References to the graph's user objects, taken at instantiation, dropped with the ExecGraph.
  std::map<UserObject*, unsigned> user_objects;
  Step* Find(const GraphNode* origin);
  ExecGraph() = default;
  ExecGraph(const ExecGraph&) = delete;
  ExecGraph& operator=(const ExecGraph&) = delete;
  ~ExecGraph();
};

// Creates an empty graph, registered (its handle is the pointer).
Graph* NewGraph();
// Destroys a graph with its nodes and their child graphs; drops its user object references.
void DestroyGraph(Graph* graph);
// Adds a node depending on `deps` (each must be a node of `graph`, no duplicates).
CUresult AddNode(Graph* graph, const GraphNode* const* deps, std::size_t count, NodeWork work,
                 GraphNode** out);
// Removes a node and every edge touching it.
void DestroyNode(GraphNode* node);
// A deep copy: nodes, edges, child graphs and user object references; cloned nodes remember their
// originals. Memory alloc nodes share the original's allocation (its address is the graph's).
Graph* CloneGraph(Graph* original);
// The nodes of `graph` that depend on `node`.
std::vector<GraphNode*> DependentsOf(Graph* graph, const GraphNode* node);

// Orders the graph's nodes for launch; CUDA_ERROR_INVALID_VALUE (with *error_node) on a cycle.
CUresult Instantiate(Graph* graph, std::unique_ptr<ExecGraph>* out, GraphNode** error_node);
// Every user object reference `exec` and its child graphs hold, summed per object.
std::map<UserObject*, unsigned> ExecUserObjects(const ExecGraph& exec);
// Whether `exec` or one of its child graphs has memory alloc or free steps.
bool HasMemoryNodes(const ExecGraph& exec);
// Before a launch: the memory alloc steps whose allocation is still in use from an earlier launch
// are freed when the graph was instantiated with AUTO_FREE_ON_LAUNCH; otherwise
// CUDA_ERROR_INVALID_VALUE, as in CUDA.
CUresult CheckGraphAllocations(const ExecGraph& exec, bool auto_free);
// Runs every enabled step on `target`, in order.
CUresult RunExec(const ExecGraph& exec, const LaunchTarget& target);
// cuGraphExecUpdate: takes `graph`'s parameters into `exec` when both have the same shape (node
// for node, types and edges); otherwise says why in *result and leaves `exec` as it was.
CUresult UpdateExec(ExecGraph* exec, Graph* graph, CUgraphExecUpdateResultInfo* result);

// The graph or node behind a handle, or null.
Graph* FindGraph(CUgraph handle);
GraphNode* FindNode(CUgraphNode handle);
ExecGraph* FindExec(CUgraphExec handle);

}  // namespace gpupool::client
