#include <cpprest/http_client.h>

#include <catch2/catch.hpp>

#include "operator/http/server.h"
#include "operator/metrics/operator_metrics.h"

namespace gpupool::metrics {
namespace {

TEST_CASE("operator metrics: names the dashboard queries") {
  OperatorMetrics m;
  m.SetLeader(true);
  m.PodBound("default", std::chrono::milliseconds(30));
  m.BindFailed("default", "no_capacity");
  m.SetPending("default", "no_capacity", 4);
  m.SetPool("default", PoolNumbers{3, 1, 2, 1, 300, 150, 3e11, 1e11});
  const std::string text = m.registry().Render();
  for (const char* want :
       {"gpupool_operator_is_leader 1", "gpupool_operator_pods_bound_total{pool=\"default\"} 1",
        "gpupool_operator_bind_failures_total{pool=\"default\",reason=\"no_capacity\"} 1",
        "gpupool_operator_pods_pending{pool=\"default\",reason=\"no_capacity\"} 4",
        "gpupool_operator_binding_duration_seconds_bucket{le=\"0.05\"} 1",
        "gpupool_pool_gpus{pool=\"default\",state=\"unhealthy\"} 1",
        "gpupool_pool_servers{pool=\"default\",state=\"unreachable\"} 1",
        "gpupool_pool_percent_allocated{pool=\"default\"} 150",
        "gpupool_pool_memory_capacity_bytes{pool=\"default\"} 300000000000"}) {
    CHECK_THAT(text, Catch::Contains(want));
  }
}

TEST_CASE("operator metrics: /metrics, /healthz and /readyz over HTTP") {
  OperatorMetrics m;
  std::atomic<bool> ready{false};
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  auto server =
      http::HttpServer::Start(options, m.MakeHandler([&] { return ready ? "" : "informers not synced"; }));
  REQUIRE(server.ok());
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string((*server)->port()));
  auto get = [&](const std::string& path) {
    auto resp = client.request(web::http::methods::GET, path).get();
    return std::make_pair(static_cast<int>(resp.status_code()), resp.extract_string(true).get());
  };
  CHECK(get("/healthz") == std::make_pair(200, std::string("ok\n")));
  CHECK(get("/readyz") == std::make_pair(503, std::string("informers not synced\n")));
  ready = true;
  CHECK(get("/readyz").first == 200);
  auto metrics = get("/metrics");
  CHECK(metrics.first == 200);
  CHECK_THAT(metrics.second, Catch::Contains("# TYPE gpupool_operator_pods_bound_total counter"));
  CHECK(get("/nope").first == 404);
}

}  // namespace
}  // namespace gpupool::metrics
