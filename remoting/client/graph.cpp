#include "remoting/client/graph.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>

#include "remoting/client/graph_memory.h"
#include "remoting/client/state.h"
#include "remoting/client/user_objects.h"

namespace gpupool::client {

ExecGraph::Step* ExecGraph::Find(const GraphNode* origin) {
  for (Step& step : steps) {
    if (step.origin == origin) return &step;
  }
  return nullptr;
}

ExecGraph::~ExecGraph() {
  for (const auto& [object, count] : user_objects) (void)ReleaseUserObject(object, count);
}

Graph* NewGraph() {
  return State::Get().graphs.Add(std::make_unique<Graph>());
}

Graph* FindGraph(CUgraph handle) {
  return State::Get().graphs.Find(handle);
}

GraphNode* FindNode(CUgraphNode handle) {
  return State::Get().graph_nodes.Find(handle);
}

ExecGraph* FindExec(CUgraphExec handle) {
  return State::Get().executables.Find(handle);
}

void DestroyGraph(Graph* graph) {
  std::vector<GraphNode*> nodes;
  std::map<UserObject*, unsigned> objects;
  {
    std::lock_guard<std::mutex> lock(graph->mu);
    nodes.swap(graph->nodes);
    objects.swap(graph->user_objects);
  }
  for (const auto& [object, count] : objects) (void)ReleaseUserObject(object, count);
  for (GraphNode* node : nodes) {
    if (node->work.child != nullptr) DestroyGraph(node->work.child);
    State::Get().graph_nodes.Remove(node);
  }
  State::Get().graphs.Remove(graph);
}

CUresult AddNode(Graph* graph, const GraphNode* const* deps, std::size_t count, NodeWork work,
                 GraphNode** out) {
  if (out == nullptr || (count > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  auto node = std::make_unique<GraphNode>();
  node->graph = graph;
  node->work = std::move(work);
  std::lock_guard<std::mutex> lock(graph->mu);
  for (std::size_t i = 0; i < count; ++i) {
    GraphNode* dep = FindNode(reinterpret_cast<CUgraphNode>(const_cast<GraphNode*>(deps[i])));
    if (dep == nullptr || dep->graph != graph) return CUDA_ERROR_INVALID_VALUE;
    if (std::find(node->deps.begin(), node->deps.end(), dep) != node->deps.end())
      return CUDA_ERROR_INVALID_VALUE;
    node->deps.push_back(dep);
  }
  GraphNode* raw = State::Get().graph_nodes.Add(std::move(node));
  if (raw->work.child != nullptr) raw->work.child->owner = raw;
  graph->nodes.push_back(raw);
  *out = raw;
  return CUDA_SUCCESS;
}

void DestroyNode(GraphNode* node) {
  Graph* graph = node->graph;
  {
    std::lock_guard<std::mutex> lock(graph->mu);
    graph->nodes.erase(std::remove(graph->nodes.begin(), graph->nodes.end(), node), graph->nodes.end());
    for (GraphNode* other : graph->nodes) {
      other->deps.erase(std::remove(other->deps.begin(), other->deps.end(), node), other->deps.end());
    }
  }
  if (node->work.child != nullptr) DestroyGraph(node->work.child);
  State::Get().graph_nodes.Remove(node);
}

std::vector<GraphNode*> DependentsOf(Graph* graph, const GraphNode* node) {
  std::vector<GraphNode*> out;
  std::lock_guard<std::mutex> lock(graph->mu);
  for (GraphNode* other : graph->nodes) {
    if (std::find(other->deps.begin(), other->deps.end(), node) != other->deps.end()) out.push_back(other);
  }
  return out;
}

Graph* CloneGraph(Graph* original) {
  Graph* clone = NewGraph();
  clone->cloned_from = original;
  std::lock_guard<std::mutex> lock(original->mu);
  clone->user_objects = original->user_objects;
  for (const auto& [object, count] : clone->user_objects) RetainUserObject(object, count);
  std::unordered_map<const GraphNode*, GraphNode*> copies;
  for (GraphNode* node : original->nodes) {
    auto copy = std::make_unique<GraphNode>();
    copy->graph = clone;
    copy->work = node->work;
    copy->cloned_from = node;
    if (node->work.child != nullptr) copy->work.child = CloneGraph(node->work.child);
    GraphNode* raw = State::Get().graph_nodes.Add(std::move(copy));
    if (raw->work.child != nullptr) raw->work.child->owner = raw;
    copies[node] = raw;
    clone->nodes.push_back(raw);
  }
  for (GraphNode* node : original->nodes) {
    for (GraphNode* dep : node->deps) copies[node]->deps.push_back(copies[dep]);
  }
  return clone;
}

namespace {

// Kahn's algorithm, stable: among the nodes whose dependencies are placed, the earliest added.
CUresult Order(Graph* graph, std::vector<GraphNode*>* order, GraphNode** error_node) {
  std::lock_guard<std::mutex> lock(graph->mu);
  const std::vector<GraphNode*>& nodes = graph->nodes;
  std::unordered_map<const GraphNode*, std::size_t> index;
  for (std::size_t i = 0; i < nodes.size(); ++i) index[nodes[i]] = i;
  std::vector<std::size_t> waiting(nodes.size());
  std::vector<std::vector<std::size_t>> dependents(nodes.size());
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    waiting[i] = nodes[i]->deps.size();
    for (const GraphNode* dep : nodes[i]->deps) dependents[index.at(dep)].push_back(i);
    if (waiting[i] == 0) ready.push(i);
  }
  order->clear();
  while (!ready.empty()) {
    const std::size_t next = ready.top();
    ready.pop();
    order->push_back(nodes[next]);
    for (std::size_t d : dependents[next]) {
      if (--waiting[d] == 0) ready.push(d);
    }
  }
  if (order->size() == nodes.size()) return CUDA_SUCCESS;
  // Every node left waits on another: a cycle. Name the first of them.
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (waiting[i] != 0) {
      if (error_node != nullptr) *error_node = nodes[i];
      break;
    }
  }
  return CUDA_ERROR_INVALID_VALUE;
}

}  // namespace

CUresult Instantiate(Graph* graph, std::unique_ptr<ExecGraph>* out, GraphNode** error_node) {
  std::vector<GraphNode*> order;
  const CUresult ordered = Order(graph, &order, error_node);
  if (ordered != CUDA_SUCCESS) return ordered;
  auto exec = std::make_unique<ExecGraph>();
  {
    std::lock_guard<std::mutex> lock(graph->mu);
    exec->user_objects = graph->user_objects;
  }
  for (const auto& [object, count] : exec->user_objects) RetainUserObject(object, count);
  std::unordered_map<const GraphNode*, std::size_t> position;
  for (std::size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  for (GraphNode* node : order) {
    std::vector<std::size_t> deps;
    for (const GraphNode* dep : node->deps) deps.push_back(position.at(dep));
    std::sort(deps.begin(), deps.end());
    exec->shape.push_back(std::move(deps));
    ExecGraph::Step step;
    step.origin = node;
    step.work = node->work;
    if (node->work.child != nullptr) {
      const CUresult child = Instantiate(node->work.child, &step.child, error_node);
      if (child != CUDA_SUCCESS) return child;
    }
    exec->steps.push_back(std::move(step));
  }
  *out = std::move(exec);
  return CUDA_SUCCESS;
}

std::map<UserObject*, unsigned> ExecUserObjects(const ExecGraph& exec) {
  std::map<UserObject*, unsigned> all = exec.user_objects;
  for (const ExecGraph::Step& step : exec.steps) {
    if (step.child == nullptr) continue;
    for (const auto& [object, count] : ExecUserObjects(*step.child)) all[object] += count;
  }
  return all;
}

bool HasMemoryNodes(const ExecGraph& exec) {
  for (const ExecGraph::Step& step : exec.steps) {
    if (step.child != nullptr && HasMemoryNodes(*step.child)) return true;
    if (step.work.type == CU_GRAPH_NODE_TYPE_MEM_ALLOC || step.work.type == CU_GRAPH_NODE_TYPE_MEM_FREE)
      return true;
  }
  return false;
}

CUresult CheckGraphAllocations(const ExecGraph& exec, bool auto_free) {
  for (const ExecGraph::Step& step : exec.steps) {
    if (step.child != nullptr) {
      const CUresult child = CheckGraphAllocations(*step.child, auto_free);
      if (child != CUDA_SUCCESS) return child;
    }
    if (step.work.type != CU_GRAPH_NODE_TYPE_MEM_ALLOC) continue;
    const CUdeviceptr ptr = step.work.alloc.dptr;
    if (!GraphMemory::Get().Allocated(ptr)) continue;
    if (!auto_free) return CUDA_ERROR_INVALID_VALUE;
    (void)GraphMemory::Get().MarkFreed(ptr);
  }
  return CUDA_SUCCESS;
}

CUresult RunExec(const ExecGraph& exec, const LaunchTarget& target) {
  for (const ExecGraph::Step& step : exec.steps) {
    if (!step.enabled) continue;
    if (step.child != nullptr) {
      const CUresult result = RunExec(*step.child, target);
      if (result != CUDA_SUCCESS) return result;
    } else if (step.work.run) {
      const CUresult result = step.work.run(target);
      if (result != CUDA_SUCCESS) return result;
    }
  }
  return CUDA_SUCCESS;
}

namespace {

void Fail(CUgraphExecUpdateResultInfo* result, CUgraphExecUpdateResult why, const GraphNode* node) {
  if (result == nullptr) return;
  result->result = why;
  result->errorNode = reinterpret_cast<CUgraphNode>(const_cast<GraphNode*>(node));
  result->errorFromNode = nullptr;
}

// Whether `fresh` can replace `current`'s parameters; the reason when not.
bool Compatible(const ExecGraph& current, const ExecGraph& fresh, CUgraphExecUpdateResultInfo* result) {
  if (current.steps.size() != fresh.steps.size()) {
    Fail(result, CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, nullptr);
    return false;
  }
  if (current.shape != fresh.shape) {
    Fail(result, CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, nullptr);
    return false;
  }
  for (std::size_t i = 0; i < current.steps.size(); ++i) {
    const ExecGraph::Step& a = current.steps[i];
    const ExecGraph::Step& b = fresh.steps[i];
    if (a.work.type != b.work.type) {
      Fail(result, CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED, b.origin);
      return false;
    }
    // A memory node's allocation is fixed for the graph's lifetime (graph_memory.h), as in CUDA.
    if (a.work.alloc.dptr != b.work.alloc.dptr || a.work.free_ptr != b.work.free_ptr) {
      Fail(result, CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED, b.origin);
      return false;
    }
    if (a.child != nullptr && !Compatible(*a.child, *b.child, result)) return false;
  }
  return true;
}

void TakeParameters(ExecGraph* current, ExecGraph* fresh) {
  for (std::size_t i = 0; i < current->steps.size(); ++i) {
    ExecGraph::Step& a = current->steps[i];
    ExecGraph::Step& b = fresh->steps[i];
    a.work = std::move(b.work);
    if (a.child != nullptr) TakeParameters(a.child.get(), b.child.get());
  }
}

}  // namespace

CUresult UpdateExec(ExecGraph* exec, Graph* graph, CUgraphExecUpdateResultInfo* result) {
  if (result != nullptr) *result = CUgraphExecUpdateResultInfo{};
  std::unique_ptr<ExecGraph> fresh;
  GraphNode* error_node = nullptr;
  if (Instantiate(graph, &fresh, &error_node) != CUDA_SUCCESS) {
    Fail(result, CU_GRAPH_EXEC_UPDATE_ERROR, error_node);
    return CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
  }
  if (!Compatible(*exec, *fresh, result)) return CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
  TakeParameters(exec, fresh.get());
  if (result != nullptr) result->result = CU_GRAPH_EXEC_UPDATE_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
