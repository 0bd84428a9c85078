#include "remoting/client/server_events.h"

#include <map>
#include <mutex>
#include <vector>

#include "remoting/client/rpc.h"

namespace gpupool::client {
namespace {

struct IdleEvents {
  std::mutex mu;
  std::map<std::uint64_t, std::vector<std::uint64_t>> by_context;  // guarded by mu
};

IdleEvents& Idle() {
  static auto* idle = new IdleEvents;  // never destroyed: host steps may run at exit
  return *idle;
}

}  // namespace

CUresult TakeServerEvent(std::uint64_t context, std::uint64_t* id) {
  {
    std::lock_guard<std::mutex> lock(Idle().mu);
    std::vector<std::uint64_t>& idle = Idle().by_context[context];
    if (!idle.empty()) {
      *id = idle.back();
      idle.pop_back();
      return CUDA_SUCCESS;
    }
  }
  protocol::Call<protocol::Op::EventCreate>::Reply reply;
  CUresult r = Rpc<protocol::Op::EventCreate>(context, {CU_EVENT_DISABLE_TIMING}, &reply);
  if (r == CUDA_SUCCESS) *id = std::get<0>(reply);
  return r;
}

void GiveServerEvent(std::uint64_t context, std::uint64_t id) {
  std::lock_guard<std::mutex> lock(Idle().mu);
  Idle().by_context[context].push_back(id);
}

void ForgetServerEvents(std::uint64_t context) {
  std::lock_guard<std::mutex> lock(Idle().mu);
  Idle().by_context.erase(context);
}

}  // namespace gpupool::client
