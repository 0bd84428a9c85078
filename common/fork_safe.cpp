#include "common/fork_safe.h"

#include <pthread.h>

#include <vector>

namespace gpupool {
namespace {

struct Registry {
  std::mutex mu;                  // guards held; itself taken across fork, first
  std::vector<std::mutex*> held;  // in registration order
};

void Prepare();
void Release();

Registry& TheRegistry() {
  static Registry* registry = [] {
    pthread_atfork(&Prepare, &Release, &Release);
    return new Registry;  // never destroyed: a thread may fork during exit
  }();
  return *registry;
}

void Prepare() {
  Registry& r = TheRegistry();
  r.mu.lock();
  for (std::mutex* mu : r.held) mu->lock();
}

void Release() {
  Registry& r = TheRegistry();
  for (auto it = r.held.rbegin(); it != r.held.rend(); ++it) (*it)->unlock();
  r.mu.unlock();
}

}  // namespace

void HoldAcrossFork(std::mutex* mu) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.held.push_back(mu);
}

}  // namespace gpupool
