// Where the plugin learns whether the pool can serve anything: the boundary between the plugin and
// the Kubernetes API. Backends: static (no API access, always healthy), Kubernetes (GPUPool.status),
// and fakes in tests.
//
// Thread-safety: Check() is called from the supervisor thread only.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "deviceplugin/config.h"

namespace gpupool::deviceplugin {

class PoolHealthSource {
 public:
  virtual ~PoolHealthSource() = default;
  // True when the pool has at least one healthy GPU. An error means "could not tell"; the caller
  // keeps the last known state.
  virtual Result<bool> Check() = 0;
  // For logs: "static", "GPUPool default at https://...".
  virtual std::string Describe() const = 0;
};

// Always healthy, never touches the network; logs once that it has no API access.
std::unique_ptr<PoolHealthSource> MakeStaticPoolHealth();
// Reads GPUPool.status of config.pool (or of the pool marked default) from config.kube_api_server.
std::unique_ptr<PoolHealthSource> MakeKubernetesPoolHealth(const Config& config);
// The backend config.pool_health names.
std::unique_ptr<PoolHealthSource> MakePoolHealth(const Config& config);

}  // namespace gpupool::deviceplugin
