// GpuPoolCatalog: the webhook's PoolCatalog over GPUPool objects (an informer's store in the
// operator, a fixed list in tests). Reads status.gpus[].memoryBytes and spec.default.
//
// Thread-safety: as thread-safe as `list_pools` (an informer Store is).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "operator/webhook/mutate.h"

namespace gpupool::webhook {

class GpuPoolCatalog final : public PoolCatalog {
 public:
  explicit GpuPoolCatalog(std::function<std::vector<nlohmann::json>()> list_pools)
      : list_pools_(std::move(list_pools)) {}
  // nullopt for a pool that does not exist (yet) or whose status lists no GPUs yet.
  Result<std::optional<std::uint64_t>> LargestGpuMemory(const std::string& pool) const override;

 private:
  std::function<std::vector<nlohmann::json>()> list_pools_;
};

}  // namespace gpupool::webhook
