// The client-side logic behind the rest of CUDA graphs: which captures forbid unsafe calls on
// which thread, the per-thread capture mode, user object reference counts and their asynchronous
// destructor, and the DOT text of a graph (cuGraphDebugDotPrint).
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "remoting/client/capture.h"
#include "remoting/client/graph.h"
#include "remoting/client/graph_dot.h"
#include "remoting/client/user_objects.h"

namespace gpupool::client {
namespace {

constexpr auto kGenerous = std::chrono::seconds(30);  // only a broken build waits this long

TEST_CASE("a capture forbids unsafe calls by its mode, the thread and the thread's mode") {
  constexpr auto kGlobal = CU_STREAM_CAPTURE_MODE_GLOBAL;
  constexpr auto kLocal = CU_STREAM_CAPTURE_MODE_THREAD_LOCAL;
  constexpr auto kRelaxed = CU_STREAM_CAPTURE_MODE_RELAXED;
  // The thread that began it, unless the capture or the thread is relaxed.
  CHECK(ForbidsUnsafeCalls(kGlobal, true, kGlobal));
  CHECK(ForbidsUnsafeCalls(kGlobal, true, kLocal));
  CHECK(ForbidsUnsafeCalls(kLocal, true, kGlobal));
  CHECK(ForbidsUnsafeCalls(kLocal, true, kLocal));
  CHECK_FALSE(ForbidsUnsafeCalls(kRelaxed, true, kGlobal));
  CHECK_FALSE(ForbidsUnsafeCalls(kGlobal, true, kRelaxed));
  // Other threads: only a global capture, and only threads in global mode.
  CHECK(ForbidsUnsafeCalls(kGlobal, false, kGlobal));
  CHECK_FALSE(ForbidsUnsafeCalls(kGlobal, false, kLocal));
  CHECK_FALSE(ForbidsUnsafeCalls(kGlobal, false, kRelaxed));
  CHECK_FALSE(ForbidsUnsafeCalls(kLocal, false, kGlobal));
  CHECK_FALSE(ForbidsUnsafeCalls(kRelaxed, false, kGlobal));
}

TEST_CASE("the capture mode belongs to the thread and starts GLOBAL") {
  CHECK(ExchangeCaptureMode(CU_STREAM_CAPTURE_MODE_RELAXED) == CU_STREAM_CAPTURE_MODE_GLOBAL);
  CUstreamCaptureMode other = CU_STREAM_CAPTURE_MODE_RELAXED;
  std::thread([&] { other = ExchangeCaptureMode(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL); }).join();
  CHECK(other == CU_STREAM_CAPTURE_MODE_GLOBAL);
  CHECK(ExchangeCaptureMode(CU_STREAM_CAPTURE_MODE_GLOBAL) == CU_STREAM_CAPTURE_MODE_RELAXED);
  // No capture is going on: nothing is forbidden.
  CHECK(CheckUnsafeCall() == CUDA_SUCCESS);
}

struct Destructions {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  std::thread::id thread;
  static void Run(void* self) {
    auto* d = static_cast<Destructions*>(self);
    std::lock_guard<std::mutex> lock(d->mu);
    ++d->count;
    d->thread = std::this_thread::get_id();
    d->cv.notify_all();
  }
};

TEST_CASE("a user object's destructor runs once, off the releasing thread, after the last reference") {
  Destructions d;
  UserObject* object = CreateUserObject(&d, Destructions::Run, 2);
  const auto handle = reinterpret_cast<CUuserObject>(object);
  REQUIRE(FindUserObject(handle) == object);
  RetainUserObject(object, 1);
  CHECK(ReleaseUserObject(object, 2));
  CHECK_FALSE(ReleaseUserObject(object, 2));  // it holds one
  {
    std::lock_guard<std::mutex> lock(d.mu);
    CHECK(d.count == 0);
  }
  CHECK(ReleaseUserObject(object, 1));
  CHECK(FindUserObject(handle) == nullptr);  // the handle ends with the last reference
  std::unique_lock<std::mutex> lock(d.mu);
  REQUIRE(d.cv.wait_for(lock, kGenerous, [&] { return d.count > 0; }));
  CHECK(d.count == 1);
  CHECK(d.thread != std::this_thread::get_id());
}

TEST_CASE("the DOT text names every node with its kind and parameters, child graphs and edges") {
  Graph* graph = NewGraph();
  NodeWork set;
  set.type = CU_GRAPH_NODE_TYPE_MEMSET;
  set.memset.dst = 0x1000;
  set.memset.value = 7;
  set.memset.elementSize = 4;
  set.memset.width = 16;
  set.memset.height = 1;
  GraphNode *a = nullptr, *b = nullptr, *c = nullptr, *inner = nullptr;
  REQUIRE(AddNode(graph, nullptr, 0, set, &a) == CUDA_SUCCESS);
  Graph* child = NewGraph();
  REQUIRE(AddNode(child, nullptr, 0, NodeWork{}, &inner) == CUDA_SUCCESS);
  NodeWork sub;
  sub.type = CU_GRAPH_NODE_TYPE_GRAPH;
  sub.child = child;
  const GraphNode* after_a[] = {a};
  REQUIRE(AddNode(graph, after_a, 1, sub, &b) == CUDA_SUCCESS);
  NodeWork free;
  free.type = CU_GRAPH_NODE_TYPE_MEM_FREE;
  free.free_ptr = 0x2000;
  const GraphNode* after_ab[] = {a, b};
  REQUIRE(AddNode(graph, after_ab, 2, free, &c) == CUDA_SUCCESS);

  const std::string dot = GraphDot(graph);
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(dot.find("\"n0\" [label=\"n0 MEMSET\\ndst 0x1000 value 7\\n16x1 of 4 bytes\"]") != std::string::npos);
  CHECK(dot.find("\"n1\" [label=\"n1 GRAPH\"]") != std::string::npos);
  CHECK(dot.find("subgraph \"cluster_n1\"") != std::string::npos);
  CHECK(dot.find("\"n1_0\" [label=\"n1_0 EMPTY\"]") != std::string::npos);
  CHECK(dot.find("\"n2\" [label=\"n2 MEM_FREE\\nfree 0x2000\"]") != std::string::npos);
  CHECK(dot.find("\"n0\" -> \"n1\"") != std::string::npos);
  CHECK(dot.find("\"n0\" -> \"n2\"") != std::string::npos);
  CHECK(dot.find("\"n1\" -> \"n2\"") != std::string::npos);
  CHECK(NodeTypeName(static_cast<CUgraphNodeType>(99)) == "UNKNOWN(99)");
  DestroyGraph(graph);
}

}  // namespace
}  // namespace gpupool::client
