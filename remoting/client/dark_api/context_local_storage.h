// ContextLocalStorage: the values the CUDA runtime keeps per context through the
// CONTEXT_LOCAL_STORAGE export table (its per-context state: one key per runtime instance in the
// process, i.e. the application's and each NVIDIA library's). The runtime expects the driver to
// call each value's destructor when the context is destroyed or its primary context reset; it then
// rebuilds its state on the next call (observed with cudaDeviceReset, docs/dark-api.md).
//
// Thread-safety: all methods are safe to call concurrently. Destructors run on the thread that
// calls DestroyContext, without the lock held, so they may call back into this object.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "remoting/client/dark_api/slots.h"

namespace gpupool::dark_api {

class ContextLocalStorage {
 public:
  // Stores (or replaces) `value` under (context, key).
  void Put(CUcontext context, void* key, void* value, ContextStorageDestructor destructor);
  // CUDA_ERROR_INVALID_HANDLE when nothing is stored under (context, key): the runtime takes that
  // as "not set up yet for this context".
  CUresult Get(CUcontext context, void* key, void** value) const;
  // Forgets (context, key) without calling its destructor (the owner deletes it itself).
  CUresult Delete(CUcontext context, void* key);
  // Forgets every value of `context` and calls their destructors, newest first.
  void DestroyContext(CUcontext context);
  std::size_t size() const;

 private:
  struct Entry {
    void* value;
    ContextStorageDestructor destructor;
    std::uint64_t order;  // insertion order, for destroying newest first
  };
  // Keyed by addresses as integers, so that ordering (and finding one context's range) is defined.
  using Key = std::pair<std::uintptr_t, std::uintptr_t>;
  static Key MakeKey(CUcontext context, void* key) {
    return {reinterpret_cast<std::uintptr_t>(context), reinterpret_cast<std::uintptr_t>(key)};
  }
  // Readers (Get, on nearly every runtime call) share it.
  mutable std::shared_mutex mu_;
  std::map<Key, Entry> entries_;
  std::uint64_t next_order_ = 0;
};

}  // namespace gpupool::dark_api
