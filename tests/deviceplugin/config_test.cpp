// LoadConfig: precedence, defaults and refusals, as a table.
#include "deviceplugin/config.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/process.h"

namespace gpupool::deviceplugin {
namespace {

TEST_CASE("config defaults and the Helm chart's flags") {
  auto c = LoadConfig({}, {});
  REQUIRE(c.ok());
  CHECK(c->device_plugin_dir == "/var/lib/kubelet/device-plugins");
  CHECK(c->gpu_percent == 100 * c->gpus);
  CHECK(c->client_lib_dir == "/opt/gpupool/lib");
  CHECK(c->pool_health == PoolHealthMode::kStatic);
  CHECK(c->cdi_kind.empty());
  CHECK(c->local_socket.empty());  // the server's socket is offered only where the chart says so

  // What deploy/helm/gpupool/templates/deviceplugin.yaml passes, with the in-cluster environment.
  auto chart = LoadConfig({"--device-plugin-dir=/var/vcap/data/kubelet/device-plugins", "--gpus=16",
                           "--gpu-percent=1600", "--gpu-memory=2304", "--pool-health=gpupool",
                           "--pool=default", "--local-socket=/run/gpupool/server.sock"},
                          {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  REQUIRE(chart.ok());
  CHECK(chart->device_plugin_dir == "/var/vcap/data/kubelet/device-plugins");
  CHECK(chart->gpus == 16);
  CHECK(chart->gpu_percent == 1600);
  CHECK(chart->gpu_memory_gib == 2304);
  CHECK(chart->pool_health == PoolHealthMode::kGpupool);
  CHECK(chart->pool == "default");
  CHECK(chart->local_socket == "/run/gpupool/server.sock");
  CHECK(chart->kube_api_server == "https://10.0.0.1:443");
  CHECK(chart->kube_token_file == "/var/run/secrets/kubernetes.io/serviceaccount/token");
  CHECK(chart->tls_ca_source.empty());

  auto tls = LoadConfig({"--tls-ca-file=/opt/gpupool/lib/gpupool-ca.crt", "--tls-server-name=gpupool-server",
                         "--tls-ca-source=/etc/gpupool/server-ca/gpupool-ca.crt",
                         "--tls-ca-install=/host/opt/gpupool/lib/gpupool-ca.crt"},
                        {});
  REQUIRE(tls.ok());
  CHECK(tls->tls_ca_file == "/opt/gpupool/lib/gpupool-ca.crt");
  CHECK(tls->tls_ca_source == "/etc/gpupool/server-ca/gpupool-ca.crt");
  CHECK(tls->tls_ca_install == "/host/opt/gpupool/lib/gpupool-ca.crt");

  auto v6 = LoadConfig({"--pool-health=gpupool"},
                       {{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}});
  REQUIRE(v6.ok());
  CHECK(v6->kube_api_server == "https://[fd00::1]:6443");
}

TEST_CASE("flags beat environment beat file") {
  testing::TempDir tmp;
  std::ofstream(tmp.File("c.json"))
      << R"({"version":"v1","gpus":8,"gpuPercent":300,"gpuMemory":10,"cdiKind":"a.io/b"})";
  auto c =
      LoadConfig({"--config", tmp.File("c.json"), "--gpu-memory", "12"},
                 {{"GPUPOOL_DEVICE_PLUGIN_GPU_PERCENT", "400"}, {"GPUPOOL_DEVICE_PLUGIN_GPU_MEMORY", "11"}});
  REQUIRE(c.ok());
  CHECK(c->gpus == 8);
  CHECK(c->gpu_percent == 400);
  CHECK(c->gpu_memory_gib == 12);
  CHECK(c->cdi_kind == "a.io/b");
  // The file may also be named by the environment.
  auto e = LoadConfig({}, {{"GPUPOOL_DEVICE_PLUGIN_CONFIG", tmp.File("c.json")}});
  REQUIRE(e.ok());
  CHECK(e->gpus == 8);
}

TEST_CASE("malformed values are refused naming the field") {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"--gpus=257"}, {}, "--gpus=257"},
      {{"--gpus=-1"}, {}, "--gpus=-1"},
      {{"--gpus=1x"}, {}, "--gpus=1x"},
      {{"--gpus=1", "--gpu-percent=101"}, {}, "--gpu-percent=101: more than 100 x gpus"},
      {{},
       {{"GPUPOOL_DEVICE_PLUGIN_GPUS", "2"}, {"GPUPOOL_DEVICE_PLUGIN_GPU_PERCENT", "201"}},
       "GPUPOOL_DEVICE_PLUGIN_GPU_PERCENT=201"},
      {{"--gpu-memory=0"}, {}, "--gpu-memory=0"},
      {{"--health-interval=soon"}, {}, "--health-interval=soon"},
      {{"--health-interval=1ms"}, {}, "shorter than 10ms"},
      {{"--cdi-kind=nokind"}, {}, "--cdi-kind=nokind"},
      {{"--local-socket=run/server.sock"}, {}, "--local-socket=run/server.sock"},
      {{"--local-socket=/server.sock"}, {}, "not a socket in a folder of its own"},  // would mount /
      {{"--local-socket=/run/gpupool/"}, {}, "not a socket in a folder of its own"},
      {{"--kube-api-server=ftp://x"}, {}, "--kube-api-server=ftp://x"},
      {{"--device-plugin-dir="}, {}, "--device-plugin-dir=: must not be empty"},
      {{"positional"}, {}, "unexpected argument"},
      {{"--config=/nonexistent.json"}, {}, "cannot be read"},
      {{"--tls-ca-source=/etc/ca.crt"}, {}, "--tls-ca-install is missing"},
      {{"--tls-ca-install=/host/ca.crt"}, {}, "--tls-ca-source is missing"},
      {{"--tls-ca-source=etc/ca.crt", "--tls-ca-install=/host/ca.crt"}, {}, "--tls-ca-source=etc/ca.crt"},
  };
  for (const auto& c : cases) {
    INFO(c.needle);
    auto r = LoadConfig(c.args, c.env);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find(c.needle) != std::string::npos);
  }
  CHECK(LoadConfig({"--help"}, {}).status().code() == Code::kNotFound);
}

}  // namespace
}  // namespace gpupool::deviceplugin
