#include "deviceplugin/devices.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

namespace gpupool::deviceplugin {
namespace {

constexpr int kMemoryGroupGiB = 1024;

// Zero-padded decimal, so IDs sort in index order.
std::string Padded(int value, int width) {
  std::string digits = std::to_string(value);
  return std::string(digits.size() < static_cast<std::size_t>(width) ? width - digits.size() : 0, '0') +
         digits;
}

}  // namespace

std::vector<ResourceSpec> BuildResources(const Config& config) {
  ResourceSpec gpu{kGpuResource, "gpupool-gpu.sock", {}};
  for (int i = 0; i < config.gpus; ++i) gpu.device_ids.push_back("gpu-" + Padded(i, 3));
  ResourceSpec percent{kPercentResource, "gpupool-gpu-percent.sock", {}};
  for (int u = 0; u < config.gpu_percent; ++u)
    percent.device_ids.push_back("gpu-" + Padded(u / 100, 3) + "-pct-" + Padded(u % 100, 3));
  ResourceSpec memory{kMemoryResource, "gpupool-gpu-memory.sock", {}};
  for (int g = 0; g < config.gpu_memory_gib; ++g) memory.device_ids.push_back("mem-" + Padded(g, 5));
  return {gpu, percent, memory};
}

std::string GroupOf(const std::string& id) {
  if (id.rfind("mem-", 0) == 0) {
    const int n = std::atoi(id.c_str() + 4);
    return "mem-" + std::to_string(n / kMemoryGroupGiB);
  }
  if (auto pos = id.find("-pct-"); pos != std::string::npos) return id.substr(0, pos);
  return id;
}

std::vector<std::string> PreferredAllocation(const std::vector<std::string>& available,
                                             const std::vector<std::string>& must_include, int size) {
  std::vector<std::string> chosen;
  std::set<std::string> taken;
  for (const auto& id : must_include) {
    if (static_cast<int>(chosen.size()) >= size) break;
    if (taken.insert(id).second) chosen.push_back(id);
  }
  // Free units per group, sorted by ID so a group is consumed from its lowest unit.
  std::map<std::string, std::vector<std::string>> free;
  for (const auto& id : available)
    if (!taken.count(id)) free[GroupOf(id)].push_back(id);
  for (auto& [g, ids] : free) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  auto take_from = [&](const std::string& group) {
    auto& ids = free[group];
    while (!ids.empty() && static_cast<int>(chosen.size()) < size) {
      chosen.push_back(ids.front());
      ids.erase(ids.begin());
    }
  };
  std::set<std::string> started;
  for (const auto& id : must_include) started.insert(GroupOf(id));
  for (const auto& g : started) take_from(g);
  while (static_cast<int>(chosen.size()) < size) {
    const int need = size - static_cast<int>(chosen.size());
    std::string best;  // tightest group that fits the rest; else the fullest one
    std::size_t best_fit = SIZE_MAX, most = 0;
    std::string fullest;
    for (const auto& [g, ids] : free) {
      if (ids.empty()) continue;
      if (static_cast<int>(ids.size()) >= need && ids.size() < best_fit) best_fit = ids.size(), best = g;
      if (ids.size() > most) most = ids.size(), fullest = g;
    }
    if (best.empty()) best = fullest;
    if (best.empty()) break;  // nothing left: kubelet pads or fails the request itself
    take_from(best);
  }
  return chosen;
}

}  // namespace gpupool::deviceplugin
