// Config of gpupool-device-plugin: what one node may attach and where to talk to kubelet and the API.
//
// Precedence, highest first: command-line flags, then environment variables, then the optional
// versioned JSON file named by --config (or GPUPOOL_DEVICE_PLUGIN_CONFIG), then the defaults below.
// Every value is checked once here; a malformed one is refused with a message naming the field.
//
//   flag                 environment                          file key       default
//   --device-plugin-dir  GPUPOOL_DEVICE_PLUGIN_DIR            devicePluginDir /var/lib/kubelet/device-plugins
//   --gpus               GPUPOOL_DEVICE_PLUGIN_GPUS           gpus           1    (1..256)
//   --gpu-percent        GPUPOOL_DEVICE_PLUGIN_GPU_PERCENT    gpuPercent     100 x gpus (1..100 x gpus)
//   --gpu-memory         GPUPOOL_DEVICE_PLUGIN_GPU_MEMORY     gpuMemory      80   (GiB, 1..65536)
//   --pool-health        GPUPOOL_DEVICE_PLUGIN_POOL_HEALTH    poolHealth     static (static|gpupool)
//   --pool               GPUPOOL_DEVICE_PLUGIN_POOL           pool           "" = the pool marked default
//   --client-lib-dir     GPUPOOL_DEVICE_PLUGIN_CLIENT_LIB_DIR clientLibDir   /opt/gpupool/lib
//   --cdi-kind           GPUPOOL_DEVICE_PLUGIN_CDI_KIND       cdiKind        "" = no CDI device names
//   --local-socket       GPUPOOL_DEVICE_PLUGIN_LOCAL_SOCKET   localSocket    "" = never offered
//   --tls-ca-file        GPUPOOL_DEVICE_PLUGIN_TLS_CA_FILE    tlsCaFile      "" = clients use no TLS
//   --tls-ca-source      GPUPOOL_DEVICE_PLUGIN_TLS_CA_SOURCE  tlsCaSource    "" = nothing copied
//   --tls-ca-install     GPUPOOL_DEVICE_PLUGIN_TLS_CA_INSTALL tlsCaInstall   "" (both or neither)
//   --tls-server-name    GPUPOOL_DEVICE_PLUGIN_TLS_SERVER_NAME tlsServerName "" = the server's address
//   --health-interval    GPUPOOL_DEVICE_PLUGIN_HEALTH_INTERVAL healthInterval 10s
//   --kube-api-server    GPUPOOL_DEVICE_PLUGIN_KUBE_API_SERVER kubeApiServer
//   https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
//   --kube-token-file    GPUPOOL_DEVICE_PLUGIN_KUBE_TOKEN_FILE kubeTokenFile
//   /var/run/secrets/kubernetes.io/serviceaccount/token
//   --kube-ca-file       GPUPOOL_DEVICE_PLUGIN_KUBE_CA_FILE   kubeCaFile
//   /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
//
// The file looks like {"version": "v1", "gpus": 16, "gpuPercent": 1600, ...}; unknown versions and
// unknown keys are refused.
//
// Thread-safety: values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace gpupool::deviceplugin {

enum class PoolHealthMode { kStatic, kGpupool };

struct Config {
  std::string device_plugin_dir = "/var/lib/kubelet/device-plugins";
  int gpus = 1;
  int gpu_percent = 0;  // 0 until resolved: 100 x gpus
  int gpu_memory_gib = 80;
  PoolHealthMode pool_health = PoolHealthMode::kStatic;
  std::string pool;
  std::string client_lib_dir = "/opt/gpupool/lib";
  std::string cdi_kind;  // e.g. "gpupool.io/client"; empty: Allocate returns no CDI device names
  // This node's gpupool-server Unix socket (its --unix), the same path on the host and in the plugin's
  // container. While a socket exists there, Allocate mounts its folder read-only into containers and
  // names it in GPUPOOL_LOCAL_SOCKET (allocate.h). Empty: never. Never "/x" (the root would be mounted).
  std::string local_socket;
  // TLS to the servers: the servers' CA as containers see it (GPUPOOL_TLS_CA_FILE), and the name
  // their certificates carry (GPUPOOL_TLS_SERVER_NAME). Empty: not injected.
  std::string tls_ca_file;
  std::string tls_server_name;
  // Where the plugin keeps that CA current (ca_install.h): the bundle as mounted from the servers'
  // Secret, and the host file (as the plugin sees it) that containers read as tls_ca_file.
  std::string tls_ca_source;
  std::string tls_ca_install;
  std::int64_t health_interval_ms = 10'000;
  std::string kube_api_server;  // empty: in-cluster from KUBERNETES_SERVICE_HOST/PORT
  std::string kube_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string kube_ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
};

// Usage text printed for --help and after a flag error.
std::string Usage();

// Parses flags (argv without the program name), the environment and the file they name. Returns
// InvalidArgument naming the flag, variable or key at fault. "--help" yields NotFound("help").
Result<Config> LoadConfig(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env);

}  // namespace gpupool::deviceplugin
