// SharedMemory: a block of memory in a memfd, mapped shared, that a child process maps too (the
// broker creates it and passes fd() to a worker, which maps the same block). Move-only; the
// mapping and the descriptor go with the object.
//
// Thread-safety: none for the object; what lives in the block must be safe across processes on
// its own (atomics).
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace gpupool::server {

class SharedMemory {
 public:
  // A new zero-filled block of `bytes`, its memfd close-on-exec (SpawnSelf keeps it for a child).
  static Result<SharedMemory> Create(const char* name, std::size_t bytes);
  // Maps `bytes` of an inherited memfd; the object owns `fd` from then on.
  static Result<SharedMemory> Map(int fd, std::size_t bytes);
  SharedMemory() = default;
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory();

  // Seals the block's size (memfd seals): whoever else holds the descriptor can no longer shrink
  // it under this mapping (a fault here) or grow it.
  Status SealSize();

  void* data() const { return data_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace gpupool::server
