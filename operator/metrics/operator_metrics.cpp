#include "operator/metrics/operator_metrics.h"

namespace gpupool::metrics {

OperatorMetrics::OperatorMetrics() {
  registry_.DeclareGauge("gpupool_operator_is_leader", "1 on the replica holding the Lease");
  registry_.DeclareCounter("gpupool_operator_pods_bound_total", "Pods bound to GPUs");
  registry_.DeclareGauge("gpupool_operator_pods_pending", "Pods waiting at the gate");
  registry_.DeclareCounter("gpupool_operator_bind_failures_total", "Binding attempts that failed (retried)");
  registry_.DeclareHistogram("gpupool_operator_binding_duration_seconds", "Pod admission to gate removed",
                             {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  registry_.DeclareCounter("gpupool_operator_reconcile_errors_total",
                           "Reconcile errors (retried with backoff)");
  registry_.DeclareCounter("gpupool_operator_webhook_requests_total", "Admission requests");
  registry_.DeclareGauge("gpupool_pool_gpus", "GPUs in the pool");
  registry_.DeclareGauge("gpupool_pool_servers", "Servers in the pool");
  registry_.DeclareGauge("gpupool_pool_percent_capacity", "100 x healthy GPUs");
  registry_.DeclareGauge("gpupool_pool_percent_allocated", "Admitted compute shares");
  registry_.DeclareGauge("gpupool_pool_memory_capacity_bytes", "Memory of healthy GPUs");
  registry_.DeclareGauge("gpupool_pool_memory_allocated_bytes", "Admitted memory shares");
  registry_.DeclareGauge("gpupool_operator_certificate_expiry_timestamp_seconds",
                         "When each certificate the operator serves or keeps ends (Unix time)");
  registry_.Set("gpupool_operator_is_leader", {}, 0);
}

void OperatorMetrics::SetCertificateExpiry(const std::string& certificate,
                                           std::chrono::system_clock::time_point not_after) {
  registry_.Set("gpupool_operator_certificate_expiry_timestamp_seconds", {{"certificate", certificate}},
                static_cast<double>(std::chrono::system_clock::to_time_t(not_after)));
}

void OperatorMetrics::SetLeader(bool leader) {
  registry_.Set("gpupool_operator_is_leader", {}, leader ? 1 : 0);
}

void OperatorMetrics::PodBound(const std::string& pool, std::chrono::duration<double> admission_to_bound) {
  registry_.Add("gpupool_operator_pods_bound_total", {{"pool", pool}});
  registry_.Observe("gpupool_operator_binding_duration_seconds", admission_to_bound.count());
}

void OperatorMetrics::BindFailed(const std::string& pool, const std::string& reason) {
  registry_.Add("gpupool_operator_bind_failures_total", {{"pool", pool}, {"reason", reason}});
}

void OperatorMetrics::SetPending(const std::string& pool, const std::string& reason, int pods) {
  registry_.Set("gpupool_operator_pods_pending", {{"pool", pool}, {"reason", reason}}, pods);
}

void OperatorMetrics::ClearPending() {
  registry_.Clear("gpupool_operator_pods_pending");
}

void OperatorMetrics::ReconcileError(const std::string& controller) {
  registry_.Add("gpupool_operator_reconcile_errors_total", {{"controller", controller}});
}

void OperatorMetrics::WebhookRequest(const std::string& result) {
  registry_.Add("gpupool_operator_webhook_requests_total", {{"result", result}});
}

void OperatorMetrics::SetPool(const std::string& pool, const PoolNumbers& n) {
  registry_.Set("gpupool_pool_gpus", {{"pool", pool}, {"state", "healthy"}}, n.healthy_gpus);
  registry_.Set("gpupool_pool_gpus", {{"pool", pool}, {"state", "unhealthy"}}, n.unhealthy_gpus);
  registry_.Set("gpupool_pool_servers", {{"pool", pool}, {"state", "reachable"}}, n.reachable_servers);
  registry_.Set("gpupool_pool_servers", {{"pool", pool}, {"state", "unreachable"}}, n.unreachable_servers);
  registry_.Set("gpupool_pool_percent_capacity", {{"pool", pool}}, n.percent_capacity);
  registry_.Set("gpupool_pool_percent_allocated", {{"pool", pool}}, n.percent_allocated);
  registry_.Set("gpupool_pool_memory_capacity_bytes", {{"pool", pool}}, n.memory_capacity_bytes);
  registry_.Set("gpupool_pool_memory_allocated_bytes", {{"pool", pool}}, n.memory_allocated_bytes);
}

void OperatorMetrics::RemovePool(const std::string& pool) {
  SetPool(pool, PoolNumbers{});
}

http::Handler OperatorMetrics::MakeHandler(std::function<std::string()> ready) const {
  return [this, ready = std::move(ready)](const http::Request& req) -> http::Response {
    if (req.method != "GET" && req.method != "HEAD") return {405, "text/plain; charset=utf-8", "use GET\n"};
    if (req.path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", registry_.Render()};
    if (req.path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
    if (req.path == "/readyz") {
      const std::string why = ready ? ready() : "";
      if (why.empty()) return {200, "text/plain; charset=utf-8", "ok\n"};
      return {503, "text/plain; charset=utf-8", why + "\n"};
    }
    return {404, "text/plain; charset=utf-8", "no such path: " + req.path + "\n"};
  };
}

}  // namespace gpupool::metrics
