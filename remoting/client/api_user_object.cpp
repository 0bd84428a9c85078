// User objects and the graphs that hold them (user_objects.h).
#include "remoting/client/api_support.h"
#include "remoting/client/user_objects.h"

using namespace gpupool::client;

GPUPOOL_API CUresult cuUserObjectCreate(CUuserObject* out, void* ptr, CUhostFn destroy, unsigned int count,
                                        unsigned int flags) {
  // CU_USER_OBJECT_NO_DESTRUCTOR_SYNC is required: CUDA does not promise when the destructor runs.
  if (out == nullptr || destroy == nullptr || count == 0 || flags != CU_USER_OBJECT_NO_DESTRUCTOR_SYNC)
    return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *out = reinterpret_cast<CUuserObject>(CreateUserObject(ptr, destroy, count));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuUserObjectRetain(CUuserObject handle, unsigned int count) {
  UserObject* object = FindUserObject(handle);
  if (object == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  RetainUserObject(object, count);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuUserObjectRelease(CUuserObject handle, unsigned int count) {
  UserObject* object = FindUserObject(handle);
  if (object == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  return ReleaseUserObject(object, count) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// The graph takes `count` new references, or with CU_GRAPH_USER_OBJECT_MOVE the caller's own.
GPUPOOL_API CUresult cuGraphRetainUserObject(CUgraph graph_handle, CUuserObject handle, unsigned int count,
                                             unsigned int flags) {
  Graph* graph = FindGraph(graph_handle);
  UserObject* object = FindUserObject(handle);
  if (graph == nullptr || object == nullptr || count == 0 || (flags & ~CU_GRAPH_USER_OBJECT_MOVE) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  if ((flags & CU_GRAPH_USER_OBJECT_MOVE) == 0) RetainUserObject(object, count);
  std::lock_guard<std::mutex> lock(graph->mu);
  graph->user_objects[object] += count;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGraphReleaseUserObject(CUgraph graph_handle, CUuserObject handle, unsigned int count) {
  Graph* graph = FindGraph(graph_handle);
  UserObject* object = FindUserObject(handle);
  if (graph == nullptr || object == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  {
    std::lock_guard<std::mutex> lock(graph->mu);
    auto it = graph->user_objects.find(object);
    if (it == graph->user_objects.end() || it->second < count) return CUDA_ERROR_INVALID_VALUE;
    it->second -= count;
    if (it->second == 0) graph->user_objects.erase(it);
  }
  (void)ReleaseUserObject(object, count);
  return CUDA_SUCCESS;
}
