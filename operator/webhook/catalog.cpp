#include "operator/webhook/catalog.h"

#include "operator/placement/json_at.h"

namespace gpupool::webhook {

Result<std::optional<std::uint64_t>> GpuPoolCatalog::LargestGpuMemory(const std::string& pool) const {
  for (const nlohmann::json& p : list_pools_()) {
    const auto& meta = p.value("metadata", nlohmann::json::object());
    const auto& spec = p.value("spec", nlohmann::json::object());
    const bool match =
        pool.empty() ? spec.value("default", false) : placement::JsonString(meta, "name") == pool;
    if (!match) continue;
    std::uint64_t largest = 0;
    const auto& status = p.value("status", nlohmann::json::object());
    for (const auto& g : status.value("gpus", nlohmann::json::array())) {
      if (g.contains("memoryBytes") && g["memoryBytes"].is_number_unsigned()) {
        largest = std::max(largest, g["memoryBytes"].get<std::uint64_t>());
      }
    }
    if (largest == 0) return std::optional<std::uint64_t>();
    return std::optional<std::uint64_t>(largest);
  }
  // A pool that does not exist (yet) is not a reason to refuse: the pod stays gated, with an Event
  // from the binder, until the pool appears.
  return std::optional<std::uint64_t>();
}

}  // namespace gpupool::webhook
