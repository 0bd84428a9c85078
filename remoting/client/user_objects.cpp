#include "remoting/client/user_objects.h"

#include <limits>
#include <memory>

#include "remoting/client/handles.h"
#include "remoting/client/state.h"

namespace gpupool::client {
namespace {

Registry<UserObject>& Objects() {
  static auto* objects = new Registry<UserObject>();  // never destroyed: destructors may run at exit
  return *objects;
}

// The host-function queue destructors run on: no server context (0) and a wire id no stream has,
// so it waits for nothing and nothing waits for it.
constexpr StreamKey kDestructors{0, std::numeric_limits<std::uint64_t>::max()};

}  // namespace

UserObject* CreateUserObject(void* ptr, CUhostFn destroy, unsigned count) {
  auto object = std::make_unique<UserObject>();
  object->ptr = ptr;
  object->destroy = destroy;
  object->refs.store(count);
  return Objects().Add(std::move(object));
}

UserObject* FindUserObject(CUuserObject handle) {
  return Objects().Find(handle);
}

void RetainUserObject(UserObject* object, unsigned count) {
  object->refs.fetch_add(count, std::memory_order_relaxed);
}

bool ReleaseUserObject(UserObject* object, unsigned count) {
  std::uint64_t refs = object->refs.load(std::memory_order_relaxed);
  do {
    if (refs < count) return false;
  } while (!object->refs.compare_exchange_weak(refs, refs - count, std::memory_order_acq_rel));
  if (refs != count) return true;
  Objects().Retire(object);
  State::Get().order.SubmitHost(kDestructors, false,
                                [ptr = object->ptr, destroy = object->destroy] { destroy(ptr); });
  return true;
}

}  // namespace gpupool::client
