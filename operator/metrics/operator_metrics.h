// OperatorMetrics: the operator's metrics with the names docs/operations.md and the chart's
// dashboard use (gpupool_operator_*, gpupool_pool_*), and the /metrics, /healthz, /readyz routes.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/metrics/registry.h"
#include "operator/http/server.h"

namespace gpupool::metrics {

struct PoolNumbers {
  int healthy_gpus = 0, unhealthy_gpus = 0;
  int reachable_servers = 0, unreachable_servers = 0;
  double percent_capacity = 0, percent_allocated = 0;
  double memory_capacity_bytes = 0, memory_allocated_bytes = 0;
};

class OperatorMetrics {
 public:
  OperatorMetrics();

  void SetLeader(bool leader);
  void PodBound(const std::string& pool, std::chrono::duration<double> admission_to_bound);
  void BindFailed(const std::string& pool,
                  const std::string& reason);  // no_capacity, server_refused, conflict
  void SetPending(const std::string& pool, const std::string& reason, int pods);
  void ClearPending();
  void ReconcileError(const std::string& controller);
  void WebhookRequest(const std::string& result);  // mutated, skipped, error
  void SetPool(const std::string& pool, const PoolNumbers& numbers);
  void RemovePool(const std::string& pool);
  // certificate: "webhook" or "server".
  void SetCertificateExpiry(const std::string& certificate, std::chrono::system_clock::time_point not_after);

  Registry& registry() { return registry_; }

  // /metrics (text format), /healthz (200 while the process serves), /readyz (200 when `ready`
  // says so, 503 with the reason otherwise). `ready` returns "" when ready.
  http::Handler MakeHandler(std::function<std::string()> ready) const;

 private:
  Registry registry_;
};

}  // namespace gpupool::metrics
