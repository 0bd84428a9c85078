#include "remoting/client/capture.h"

#include <algorithm>
#include <atomic>
#include <unordered_set>

#include "remoting/client/api_support.h"

namespace gpupool::client {
namespace {

std::atomic<std::uint64_t> next_capture_id{1};

thread_local CUstreamCaptureMode thread_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

// Captures going on (begun and not ended), for CheckUnsafeCall.
// Weak: a capture whose streams were destroyed without ending it just drops out.
std::mutex active_mu;
std::vector<std::weak_ptr<Capture>> active_captures;  // guarded by active_mu
std::atomic<std::size_t> active_count{0};             // active_captures.size()

void Activate(const std::shared_ptr<Capture>& capture) {
  std::lock_guard<std::mutex> lock(active_mu);
  active_captures.push_back(capture);
  active_count.store(active_captures.size(), std::memory_order_release);
}

void Deactivate(const Capture* capture) {
  std::lock_guard<std::mutex> lock(active_mu);
  std::erase_if(active_captures, [capture](const std::weak_ptr<Capture>& c) {
    const std::shared_ptr<Capture> live = c.lock();
    return live == nullptr || live.get() == capture;
  });
  active_count.store(active_captures.size(), std::memory_order_release);
}

Stream* StreamOf(CUstream handle) {
  return State::Get().streams.Find(handle);
}

// Every node `frontier` depends on, directly or not, and the frontier itself.
std::unordered_set<const GraphNode*> Closure(Graph* graph, const std::vector<GraphNode*>& frontier) {
  std::lock_guard<std::mutex> lock(graph->mu);
  std::unordered_set<const GraphNode*> seen;
  std::vector<const GraphNode*> todo(frontier.begin(), frontier.end());
  while (!todo.empty()) {
    const GraphNode* node = todo.back();
    todo.pop_back();
    if (!seen.insert(node).second) continue;
    for (const GraphNode* dep : node->deps) todo.push_back(dep);
  }
  return seen;
}

// Takes every member stream out of the capture.
void Leave(Capture* capture) {
  Deactivate(capture);
  std::vector<CUstream> members;
  {
    std::lock_guard<std::mutex> lock(capture->mu);
    capture->ended = true;
    members.swap(capture->members);
  }
  for (CUstream handle : members) {
    Stream* s = StreamOf(handle);
    if (s == nullptr) continue;
    std::lock_guard<std::mutex> lock(s->capture_mu);
    if (s->capture.get() != capture) continue;
    s->capture.reset();
    s->frontier.clear();
  }
}

}  // namespace

bool ForbidsUnsafeCalls(CUstreamCaptureMode capture_mode, bool same_thread, CUstreamCaptureMode thread_mode) {
  if (thread_mode == CU_STREAM_CAPTURE_MODE_RELAXED || capture_mode == CU_STREAM_CAPTURE_MODE_RELAXED)
    return false;
  if (same_thread) return true;
  return capture_mode == CU_STREAM_CAPTURE_MODE_GLOBAL && thread_mode == CU_STREAM_CAPTURE_MODE_GLOBAL;
}

CUstreamCaptureMode ExchangeCaptureMode(CUstreamCaptureMode mode) {
  const CUstreamCaptureMode previous = thread_mode;
  thread_mode = mode;
  return previous;
}

CUresult CheckUnsafeCall() {
  if (active_count.load(std::memory_order_acquire) == 0) return CUDA_SUCCESS;
  const std::thread::id self = std::this_thread::get_id();
  bool forbidden = false;
  std::lock_guard<std::mutex> lock(active_mu);
  for (const std::weak_ptr<Capture>& weak : active_captures) {
    const std::shared_ptr<Capture> capture = weak.lock();
    if (capture == nullptr) continue;
    if (!ForbidsUnsafeCalls(capture->mode, capture->thread == self, thread_mode)) continue;
    capture->invalidated.store(true);
    forbidden = true;
  }
  return forbidden ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

CUresult CheckNotCapturedEvent(Event* event) {
  std::shared_ptr<Capture> capture;
  {
    std::lock_guard<std::mutex> lock(event->record_mu);
    capture = event->captured_in;
  }
  if (capture == nullptr) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(capture->mu);
  return capture->ended ? CUDA_SUCCESS : CUDA_ERROR_CAPTURED_EVENT;
}

CUresult CheckNotCaptured(CUstream stream) {
  const std::shared_ptr<Capture> capture = CaptureOf(stream);
  if (capture == nullptr) return CUDA_SUCCESS;
  capture->invalidated.store(true);
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

std::shared_ptr<Capture> CaptureOf(CUstream stream) {
  Stream* s = StreamOf(stream);
  if (s == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(s->capture_mu);
  return s->capture;
}

CUresult BeginCapture(CUstream stream, CUstreamCaptureMode mode, Graph* graph, const GraphNode* const* deps,
                      std::size_t count) {
  if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      mode != CU_STREAM_CAPTURE_MODE_RELAXED)
    return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Stream* s = StreamOf(stream);
  if (s == nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;  // NULL and default streams
  std::vector<GraphNode*> frontier;
  for (std::size_t i = 0; i < count; ++i) {
    GraphNode* dep = FindNode(reinterpret_cast<CUgraphNode>(const_cast<GraphNode*>(deps[i])));
    if (dep == nullptr || dep->graph != graph) return CUDA_ERROR_INVALID_VALUE;
    frontier.push_back(dep);
  }
  std::lock_guard<std::mutex> lock(s->capture_mu);
  if (s->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  auto capture = std::make_shared<Capture>();
  capture->owns_graph = graph == nullptr;
  capture->graph = graph != nullptr ? graph : NewGraph();
  capture->origin = stream;
  capture->id = next_capture_id.fetch_add(1);
  capture->members.push_back(stream);
  capture->mode = mode;
  capture->thread = std::this_thread::get_id();
  Activate(capture);
  s->capture = std::move(capture);
  s->frontier = std::move(frontier);
  return CUDA_SUCCESS;
}

CUresult EndCapture(CUstream stream, Graph** out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Stream* s = StreamOf(stream);
  if (s == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  std::shared_ptr<Capture> capture;
  std::vector<GraphNode*> frontier;
  {
    std::lock_guard<std::mutex> lock(s->capture_mu);
    capture = s->capture;
    frontier = s->frontier;
  }
  if (capture == nullptr) return CUDA_ERROR_ILLEGAL_STATE;  // no capture was begun
  if (capture->origin != stream) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
  Leave(capture.get());
  if (capture->invalidated.load()) {
    if (capture->owns_graph) DestroyGraph(capture->graph);
    *out = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  // Every node must lead into the origin's frontier: work forked onto another stream and never
  // waited for by the origin would otherwise run unordered with what follows the graph.
  const std::unordered_set<const GraphNode*> joined = Closure(capture->graph, frontier);
  bool unjoined = false;
  {
    std::lock_guard<std::mutex> lock(capture->graph->mu);
    for (const GraphNode* node : capture->graph->nodes) unjoined = unjoined || joined.count(node) == 0;
  }
  if (unjoined) {
    if (capture->owns_graph) DestroyGraph(capture->graph);
    *out = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
  }
  *out = capture->graph;
  return CUDA_SUCCESS;
}

bool CaptureWork(CUstream stream, NodeWork work, CUresult* result) {
  Stream* s = StreamOf(stream);
  if (s == nullptr) return false;
  std::lock_guard<std::mutex> lock(s->capture_mu);
  if (s->capture == nullptr) return false;
  if (s->capture->invalidated.load()) {
    *result = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    return true;
  }
  GraphNode* node = nullptr;
  const std::vector<GraphNode*> deps = s->frontier;
  *result = AddNode(s->capture->graph, deps.data(), deps.size(), std::move(work), &node);
  if (*result == CUDA_SUCCESS) s->frontier.assign(1, node);
  return true;
}

bool CaptureRecord(CUstream stream, Event* event) {
  Stream* s = StreamOf(stream);
  if (s == nullptr) return false;
  std::shared_ptr<Capture> capture;
  std::vector<GraphNode*> frontier;
  {
    std::lock_guard<std::mutex> lock(s->capture_mu);
    if (s->capture == nullptr) return false;
    capture = s->capture;
    frontier = s->frontier;
  }
  std::lock_guard<std::mutex> lock(event->record_mu);
  event->captured_in = std::move(capture);
  event->captured_nodes = std::move(frontier);
  return true;
}

bool CaptureWait(CUstream stream, Event* event, CUresult* result) {
  std::shared_ptr<Capture> capture;
  std::vector<GraphNode*> nodes;
  {
    std::lock_guard<std::mutex> lock(event->record_mu);
    capture = event->captured_in;
    nodes = event->captured_nodes;
  }
  if (capture == nullptr) return false;
  {
    std::lock_guard<std::mutex> lock(capture->mu);
    if (capture->ended) return false;
  }
  Stream* s = StreamOf(stream);
  if (s == nullptr) {  // the NULL stream cannot join a capture
    *result = CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
    return true;
  }
  std::lock_guard<std::mutex> lock(s->capture_mu);
  if (s->capture != nullptr && s->capture != capture) {
    *result = CUDA_ERROR_STREAM_CAPTURE_ISOLATION;  // two captures cannot depend on each other
    return true;
  }
  if (s->capture == nullptr) {
    std::lock_guard<std::mutex> members(capture->mu);
    if (capture->ended) return false;
    capture->members.push_back(stream);
    s->capture = capture;
    s->frontier.clear();
  }
  for (GraphNode* node : nodes) {
    if (std::find(s->frontier.begin(), s->frontier.end(), node) == s->frontier.end())
      s->frontier.push_back(node);
  }
  *result = CUDA_SUCCESS;
  return true;
}

CUresult CaptureInfo(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                     const CUgraphNode** deps, std::size_t* count) {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Stream* s = StreamOf(stream);
  std::unique_lock<std::mutex> lock;
  if (s != nullptr) lock = std::unique_lock<std::mutex>(s->capture_mu);
  const bool active = s != nullptr && s->capture != nullptr;
  *status = !active                          ? CU_STREAM_CAPTURE_STATUS_NONE
            : s->capture->invalidated.load() ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
                                             : CU_STREAM_CAPTURE_STATUS_ACTIVE;
  if (id != nullptr) *id = active ? s->capture->id : 0;
  if (graph != nullptr) *graph = active ? reinterpret_cast<CUgraph>(s->capture->graph) : nullptr;
  if (deps != nullptr) *deps = active ? reinterpret_cast<const CUgraphNode*>(s->frontier.data()) : nullptr;
  if (count != nullptr) *count = active ? s->frontier.size() : 0;
  return CUDA_SUCCESS;
}

CUresult UpdateCaptureDependencies(CUstream stream, CUgraphNode* deps, std::size_t count, unsigned flags) {
  if (count > 0 && deps == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (flags != CU_STREAM_ADD_CAPTURE_DEPENDENCIES && flags != CU_STREAM_SET_CAPTURE_DEPENDENCIES)
    return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Stream* s = StreamOf(stream);
  if (s == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  std::lock_guard<std::mutex> lock(s->capture_mu);
  if (s->capture == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  std::vector<GraphNode*> frontier =
      flags == CU_STREAM_ADD_CAPTURE_DEPENDENCIES ? s->frontier : std::vector<GraphNode*>{};
  for (std::size_t i = 0; i < count; ++i) {
    GraphNode* node = FindNode(deps[i]);
    if (node == nullptr || node->graph != s->capture->graph) return CUDA_ERROR_INVALID_VALUE;
    if (std::find(frontier.begin(), frontier.end(), node) == frontier.end()) frontier.push_back(node);
  }
  s->frontier = std::move(frontier);
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
