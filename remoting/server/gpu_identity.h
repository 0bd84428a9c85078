// How GPUs are named across the server: the UUID text the driver prints (GPU-xxxxxxxx-xxxx-...,
// common/gpu_uuid.h), used by the inventory, admissions and CUDA_VISIBLE_DEVICES; and which GPUs a
// CUDA_VISIBLE_DEVICES value leaves visible, by the driver's rules, for the emulated device to follow them
// too.
#pragma once

#include <cuda.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/gpu_uuid.h"

namespace gpupool::server {

inline std::string FormatGpuUuid(const CUuuid& uuid) {
  return ::gpupool::FormatGpuUuid(std::string_view(uuid.bytes, sizeof uuid.bytes));
}

// The indices (into `uuids`, in the order given) that CUDA_VISIBLE_DEVICES=`spec` makes visible:
// a comma-separated list of indices or UUIDs (a unique prefix of "GPU-..." is enough). As with the
// driver, the list ends at the first entry that names no GPU, names one twice, or is ambiguous.
inline std::vector<int> VisibleDevices(std::string_view spec, const std::vector<std::string>& uuids) {
  std::vector<int> visible;
  while (true) {
    const std::size_t comma = spec.find(',');
    std::string_view entry = spec.substr(0, comma);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    int found = -1;
    if (!entry.empty() && entry.find_first_not_of("0123456789") == std::string_view::npos) {
      if (entry.size() <= 3) {
        const int index = std::stoi(std::string(entry));
        if (index < static_cast<int>(uuids.size())) found = index;
      }
    } else if (entry.rfind("GPU-", 0) == 0) {
      for (std::size_t i = 0; i < uuids.size(); ++i) {
        if (std::string_view(uuids[i]).rfind(entry, 0) != 0) continue;
        if (found != -1) return visible;  // ambiguous prefix
        found = static_cast<int>(i);
      }
    }
    if (found == -1) return visible;
    for (int v : visible)
      if (v == found) return visible;
    visible.push_back(found);
    if (comma == std::string_view::npos) return visible;
    spec.remove_prefix(comma + 1);
  }
}

}  // namespace gpupool::server
