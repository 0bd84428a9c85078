// DeviceBytes: device memory a session holds, counted per device ordinal and in total, so that a
// session admitted on several GPUs is held to each GPU's own memory limit (session.h).
//
// Thread-safety: none; a session worker is single-threaded.
#pragma once

#include <cstdint>
#include <vector>

namespace gpupool::server {

class DeviceBytes {
 public:
  void Add(int device, std::uint64_t bytes);
  // Takes back `bytes` an earlier Add counted for `device`.
  void Remove(int device, std::uint64_t bytes);
  std::uint64_t On(int device) const;
  std::uint64_t total() const { return total_; }

 private:
  std::vector<std::uint64_t> by_device_;
  std::uint64_t total_ = 0;
};

}  // namespace gpupool::server
