// CUDA arrays (and mipmapped arrays) on the client: a CUarray the program holds is the address of an
// Array wrapping the server's id with the descriptor it was created with and its extent in copy
// units, so copies are checked and split here before anything is sent. Ids map back to handles for
// the resource descriptors of texture and surface objects.
//
// Thread-safety: all methods lock; an Array is immutable after creation.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "remoting/client/handles.h"
#include "remoting/protocol/array_format.h"

namespace gpupool::client {

struct Array {
  std::uint64_t id = 0;
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  protocol::ArrayExtent extent;
};

// A mipmapped array: its server id and descriptor, and the handles of the levels asked for so far
// (one per level, so cuMipmappedArrayGetLevel answers the same CUarray each time).
struct MipmappedArray {
  std::uint64_t id = 0;
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  std::mutex mu;
  std::map<unsigned, CUarray> levels;  // guarded by mu
};

// A Registry of objects with a server `id`, whose handles can also be found by that id.
template <typename T, typename Handle>
class IdRegistry {
 public:
  Handle Add(std::unique_ptr<T> object) {
    const std::uint64_t id = object->id;
    auto handle = reinterpret_cast<Handle>(registry_.Add(std::move(object)));
    std::lock_guard<std::mutex> lock(mu_);
    by_id_[id] = handle;
    return handle;
  }
  T* Find(Handle handle) const { return registry_.Find(handle); }
  // The handle of the live object with server id `id`, or nullptr.
  Handle ById(std::uint64_t id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }
  void Retire(Handle handle) {
    T* object = registry_.Find(handle);
    if (object == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      by_id_.erase(object->id);
    }
    registry_.Retire(handle);
  }

 private:
  Registry<T> registry_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Handle> by_id_;  // guarded by mu_
};

class ArrayTable {
 public:
  static ArrayTable& Get();

  IdRegistry<Array, CUarray> arrays;
  IdRegistry<MipmappedArray, CUmipmappedArray> mipmaps;

  // Retires a mipmapped array and its levels' handles.
  void RetireMipmap(CUmipmappedArray handle);
};

}  // namespace gpupool::client
