#include "remoting/client/graph_work.h"

#include "remoting/client/api_support.h"
#include "remoting/client/host_functions.h"

namespace gpupool::client {

NodeWork CapturedOpWork(CUgraphNodeType kind, std::function<CUresult(std::uint64_t)> op) {
  NodeWork work;
  work.type = kind;
  work.run = [kind, op = std::move(op)](const LaunchTarget& t) {
    return SubmitOp(kind, t.stream, t.context, t.wire, op);
  };
  return work;
}

NodeWork HostWork(CUhostFn fn, void* user_data) {
  NodeWork work;
  work.type = CU_GRAPH_NODE_TYPE_HOST;
  work.host = {fn, user_data};
  work.run = [fn, user_data](const LaunchTarget& t) {
    return LaunchHost(t.stream, t.owner, t.context, t.wire, {fn, nullptr, t.stream, user_data});
  };
  return work;
}

}  // namespace gpupool::client
