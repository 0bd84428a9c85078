#include "remoting/client/dark_api/context_local_storage.h"

#include <algorithm>
#include <vector>

namespace gpupool::dark_api {

void ContextLocalStorage::Put(CUcontext context, void* key, void* value,
                              ContextStorageDestructor destructor) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  entries_[MakeKey(context, key)] = Entry{value, destructor, next_order_++};
}

CUresult ContextLocalStorage::Get(CUcontext context, void* key, void** value) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = entries_.find(MakeKey(context, key));
  if (it == entries_.end()) return CUDA_ERROR_INVALID_HANDLE;
  *value = it->second.value;
  return CUDA_SUCCESS;
}

CUresult ContextLocalStorage::Delete(CUcontext context, void* key) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  return entries_.erase(MakeKey(context, key)) == 1 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

void ContextLocalStorage::DestroyContext(CUcontext context) {
  struct Doomed {
    void* key;
    Entry entry;
  };
  std::vector<Doomed> doomed;
  {
    std::lock_guard<std::shared_mutex> lock(mu_);
    const Key first = MakeKey(context, nullptr);
    auto it = entries_.lower_bound(first);
    while (it != entries_.end() && it->first.first == first.first) {
      doomed.push_back({reinterpret_cast<void*>(it->first.second), it->second});
      it = entries_.erase(it);
    }
  }
  std::sort(doomed.begin(), doomed.end(),
            [](const Doomed& a, const Doomed& b) { return a.entry.order > b.entry.order; });
  for (const Doomed& d : doomed) {
    if (d.entry.destructor != nullptr) d.entry.destructor(context, d.key, d.entry.value);
  }
}

std::size_t ContextLocalStorage::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return entries_.size();
}

}  // namespace gpupool::dark_api
