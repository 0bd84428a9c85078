// CUDA arrays on the client: a CUarray the program holds is the address of an Array wrapping the
// server's id with the descriptor it was created with and its extent in copy units, so copies are
// checked and split here before anything is sent. Ids map back to handles for the resource
// descriptors of texture and surface objects.
//
// Thread-safety: all methods lock; an Array is immutable after creation.
#pragma once

#include <cuda.h>

#include <cstdint>
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

class ArrayTable {
 public:
  static ArrayTable& Get();

  CUarray Add(std::unique_ptr<Array> array);
  // The live array behind `handle`, or nullptr.
  Array* Find(CUarray handle) const { return registry_.Find(handle); }
  // The handle of the live array with server id `id`, or nullptr.
  CUarray ById(std::uint64_t id) const;
  void Retire(CUarray handle);

 private:
  Registry<Array> registry_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, CUarray> by_id_;  // guarded by mu_
};

}  // namespace gpupool::client
