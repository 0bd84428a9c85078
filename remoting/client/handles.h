// Client-side handles: every CUstream, CUevent, CUmodule, CUfunction, ... the program holds is the
// address of a client object wrapping the server's 64-bit id. A Registry knows which addresses are
// live, so a stale or made-up handle is CUDA_ERROR_INVALID_HANDLE, never a wild dereference.
//
// Thread-safety: all methods lock; the objects themselves are immutable after creation except
// where their struct says otherwise.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gpupool::client {

template <typename T>
class Registry {
 public:
  T* Add(std::unique_ptr<T> object) {
    T* raw = object.get();
    std::lock_guard<std::mutex> lock(mu_);
    objects_[raw] = std::move(object);
    return raw;
  }
  // The live object behind `handle`, or nullptr.
  T* Find(const void* handle) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(handle);
    return it == objects_.end() ? nullptr : it->second.get();
  }
  // The first live object `pred` accepts, or nullptr (a scan: for questions asked once per call).
  template <typename Pred>
  T* FindIf(Pred pred) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [handle, object] : objects_)
      if (pred(*object)) return object.get();
    return nullptr;
  }
  std::unique_ptr<T> Remove(const void* handle) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(handle);
    if (it == objects_.end()) return nullptr;
    std::unique_ptr<T> object = std::move(it->second);
    objects_.erase(it);
    return object;
  }
  // Ends `handle` (it is then unknown to Find) but keeps its memory for the life of the process, so
  // the address is never reused for a new object: a program's stale handle stays an error instead of
  // aliasing a live one. The object stays owned here, so leak checkers see it as reachable.
  bool Retire(const void* handle) {
    std::unique_ptr<T> object = Remove(handle);
    if (object == nullptr) return false;
    std::lock_guard<std::mutex> lock(mu_);
    retired_.push_back(std::move(object));
    return true;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<const void*, std::unique_ptr<T>> objects_;
  std::vector<std::unique_ptr<T>> retired_;
};

}  // namespace gpupool::client
