#include "common/log.h"
#include "deviceplugin/pool_health.h"

namespace gpupool::deviceplugin {
namespace {

class StaticPoolHealth : public PoolHealthSource {
 public:
  StaticPoolHealth() {
    GPUPOOL_LOG(kInfo) << "pool health: static (no Kubernetes API access): the configured capacity is "
                          "advertised healthy whatever the state of the pool";
  }
  Result<bool> Check() override { return true; }
  std::string Describe() const override { return "static"; }
};

}  // namespace

std::unique_ptr<PoolHealthSource> MakeStaticPoolHealth() {
  return std::make_unique<StaticPoolHealth>();
}

std::unique_ptr<PoolHealthSource> MakePoolHealth(const Config& config) {
  if (config.pool_health == PoolHealthMode::kGpupool) return MakeKubernetesPoolHealth(config);
  return MakeStaticPoolHealth();
}

}  // namespace gpupool::deviceplugin
