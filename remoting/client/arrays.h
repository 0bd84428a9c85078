// CUDA arrays (and mipmapped arrays) on the client: a CUarray the program holds is the address of an Array
// wrapping the server's id with the descriptor it was created with and its extent in copy units, so copies
// are checked and split here before anything is sent. Ids map back to handles for the resource descriptors of
// texture and surface objects.
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

class ArrayTable {
 public:
  static ArrayTable& Get();

  CUarray Add(std::unique_ptr<Array> array);
  // The live array behind `handle`, or nullptr.
  Array* Find(CUarray handle) const { return registry_.Find(handle); }
  // The handle of the live array with server id `id`, or nullptr.
  CUarray ById(std::uint64_t id) const;
  void Retire(CUarray handle);

  CUmipmappedArray AddMipmap(std::unique_ptr<MipmappedArray> mipmap);
  MipmappedArray* FindMipmap(CUmipmappedArray handle) const { return mipmaps_.Find(handle); }
  CUmipmappedArray MipmapById(std::uint64_t id) const;
  // Retires the mipmapped array and its levels' handles.
  void RetireMipmap(CUmipmappedArray handle);

 private:
  Registry<Array> registry_;
  Registry<MipmappedArray> mipmaps_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, CUarray> by_id_;                   // guarded by mu_
  std::unordered_map<std::uint64_t, CUmipmappedArray> mipmaps_by_id_;  // guarded by mu_
};

}  // namespace gpupool::client
