#include "remoting/server/device_bytes.h"

#include <algorithm>

namespace gpupool::server {

void DeviceBytes::Add(int device, std::uint64_t bytes) {
  const std::size_t d = static_cast<std::size_t>(std::max(device, 0));
  if (d >= by_device_.size()) by_device_.resize(d + 1, 0);
  by_device_[d] += bytes;
  total_ += bytes;
}

void DeviceBytes::Remove(int device, std::uint64_t bytes) {
  const std::size_t d = static_cast<std::size_t>(std::max(device, 0));
  if (d < by_device_.size()) by_device_[d] -= std::min(bytes, by_device_[d]);
  total_ -= std::min(bytes, total_);
}

std::uint64_t DeviceBytes::On(int device) const {
  const std::size_t d = static_cast<std::size_t>(std::max(device, 0));
  return d < by_device_.size() ? by_device_[d] : 0;
}

}  // namespace gpupool::server
