#include "deviceplugin/config.h"

#include <charconv>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/units.h"

namespace gpupool::deviceplugin {
namespace {

// One settable field: its names in each source and how a textual value is stored.
struct Field {
  const char* flag;  // without "--"
  const char* env;
  const char* file_key;
  const char* help;
  std::function<Status(Config&, const std::string&)> set;
};

Result<int> ParseInt(const std::string& text, int lo, int hi) {
  int v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end)
    return Status::InvalidArgument("\"" + text + "\" is not an integer");
  if (v < lo || v > hi)
    return Status::InvalidArgument(text + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

Status SetInt(int& out, const std::string& text, int lo, int hi) {
  auto v = ParseInt(text, lo, hi);
  if (!v.ok()) return v.status();
  out = *v;
  return Status::Ok();
}

Status SetPath(std::string& out, const std::string& text) {
  if (text.empty()) return Status::InvalidArgument("must not be empty");
  out = text;
  return Status::Ok();
}

Status SetAbsolutePath(std::string& out, const std::string& text) {
  if (text.empty() || text[0] != '/')
    return Status::InvalidArgument("\"" + text + "\" is not an absolute path");
  out = text;
  return Status::Ok();
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> kFields = {
      {"device-plugin-dir", "GPUPOOL_DEVICE_PLUGIN_DIR", "devicePluginDir",
       "kubelet's device-plugin directory",
       [](Config& c, const std::string& v) { return SetPath(c.device_plugin_dir, v); }},
      {"gpus", "GPUPOOL_DEVICE_PLUGIN_GPUS", "gpus", "remote GPUs this node may attach (1..256)",
       [](Config& c, const std::string& v) { return SetInt(c.gpus, v, 1, 256); }},
      {"gpu-percent", "GPUPOOL_DEVICE_PLUGIN_GPU_PERCENT", "gpuPercent",
       "percent units this node may attach (1..100 x gpus; default 100 x gpus)",
       [](Config& c, const std::string& v) { return SetInt(c.gpu_percent, v, 1, 25600); }},
      {"gpu-memory", "GPUPOOL_DEVICE_PLUGIN_GPU_MEMORY", "gpuMemory",
       "GiB of GPU memory this node may attach (1..65536)",
       [](Config& c, const std::string& v) { return SetInt(c.gpu_memory_gib, v, 1, 65536); }},
      {"pool-health", "GPUPOOL_DEVICE_PLUGIN_POOL_HEALTH", "poolHealth",
       "static (always healthy, no API access) or gpupool (read GPUPool.status)",
       [](Config& c, const std::string& v) {
         if (v == "static")
           c.pool_health = PoolHealthMode::kStatic;
         else if (v == "gpupool")
           c.pool_health = PoolHealthMode::kGpupool;
         else
           return Status::InvalidArgument("\"" + v + "\" is not static or gpupool");
         return Status::Ok();
       }},
      {"pool", "GPUPOOL_DEVICE_PLUGIN_POOL", "pool",
       "GPUPool whose health counts (default: the pool marked default)",
       [](Config& c, const std::string& v) {
         c.pool = v;
         return Status::Ok();
       }},
      {"client-lib-dir", "GPUPOOL_DEVICE_PLUGIN_CLIENT_LIB_DIR", "clientLibDir",
       "host folder of the client libraries, mounted read-only into containers",
       [](Config& c, const std::string& v) { return SetAbsolutePath(c.client_lib_dir, v); }},
      {"cdi-kind", "GPUPOOL_DEVICE_PLUGIN_CDI_KIND", "cdiKind",
       "CDI vendor/class (e.g. gpupool.io/client): Allocate also names CDI device <kind>=client",
       [](Config& c, const std::string& v) {
         if (!v.empty() && (v.find('/') == std::string::npos || v.find('=') != std::string::npos))
           return Status::InvalidArgument("\"" + v + "\" is not a CDI kind like vendor.com/class");
         c.cdi_kind = v;
         return Status::Ok();
       }},
      {"local-socket", "GPUPOOL_DEVICE_PLUGIN_LOCAL_SOCKET", "localSocket",
       "this node's gpupool-server Unix socket, at the same path on the host and in the plugin: while it "
       "exists, Allocate mounts its folder read-only and sets GPUPOOL_LOCAL_SOCKET",
       [](Config& c, const std::string& v) {
         if (v.empty()) {
           c.local_socket.clear();
           return Status::Ok();
         }
         GPUPOOL_RETURN_IF_ERROR(SetAbsolutePath(c.local_socket, v));
         // The whole folder is mounted into containers: never the root, and it must name a file.
         const std::size_t slash = v.rfind('/');
         if (slash == 0 || slash + 1 == v.size())
           return Status::InvalidArgument(
               "\"" + v + "\" is not a socket in a folder of its own (like /run/gpupool/server.sock)");
         return Status::Ok();
       }},
      {"tls-ca-file", "GPUPOOL_DEVICE_PLUGIN_TLS_CA_FILE", "tlsCaFile",
       "the servers' CA as containers see it (GPUPOOL_TLS_CA_FILE); clients then use TLS",
       [](Config& c, const std::string& v) { return SetAbsolutePath(c.tls_ca_file, v); }},
      {"tls-ca-source", "GPUPOOL_DEVICE_PLUGIN_TLS_CA_SOURCE", "tlsCaSource",
       "the servers' CA bundle in the plugin's container (a Secret volume): copied to --tls-ca-install at "
       "start and whenever it changes",
       [](Config& c, const std::string& v) { return SetAbsolutePath(c.tls_ca_source, v); }},
      {"tls-ca-install", "GPUPOOL_DEVICE_PLUGIN_TLS_CA_INSTALL", "tlsCaInstall",
       "where the plugin writes that copy: the host file containers read as --tls-ca-file",
       [](Config& c, const std::string& v) { return SetAbsolutePath(c.tls_ca_install, v); }},
      {"tls-server-name", "GPUPOOL_DEVICE_PLUGIN_TLS_SERVER_NAME", "tlsServerName",
       "the name the servers' certificates carry (GPUPOOL_TLS_SERVER_NAME)",
       [](Config& c, const std::string& v) { return SetPath(c.tls_server_name, v); }},
      {"health-interval", "GPUPOOL_DEVICE_PLUGIN_HEALTH_INTERVAL", "healthInterval",
       "how often GPUPool.status is read (e.g. 10s, 500ms)",
       [](Config& c, const std::string& v) {
         auto ms = ParseDurationMs(v);
         if (!ms.ok()) return ms.status();
         if (*ms < 10) return Status::InvalidArgument(v + " is shorter than 10ms");
         c.health_interval_ms = *ms;
         return Status::Ok();
       }},
      {"kube-api-server", "GPUPOOL_DEVICE_PLUGIN_KUBE_API_SERVER", "kubeApiServer",
       "API server URL (default: in-cluster https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)",
       [](Config& c, const std::string& v) {
         if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
           return Status::InvalidArgument("\"" + v + "\" is not an http(s) URL");
         c.kube_api_server = v;
         return Status::Ok();
       }},
      {"kube-token-file", "GPUPOOL_DEVICE_PLUGIN_KUBE_TOKEN_FILE", "kubeTokenFile",
       "bearer token, re-read per request",
       [](Config& c, const std::string& v) { return SetPath(c.kube_token_file, v); }},
      {"kube-ca-file", "GPUPOOL_DEVICE_PLUGIN_KUBE_CA_FILE", "kubeCaFile", "CA bundle of the API server",
       [](Config& c, const std::string& v) { return SetPath(c.kube_ca_file, v); }},
  };
  return kFields;
}

// A value and where it came from, for error messages ("--gpus=0", "GPUPOOL_...=0", "file f: gpus").
struct Setting {
  std::string origin;
  std::string value;
};

Status ReadFile(const std::string& path, std::map<std::string, Setting>& out) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("--config " + path + ": cannot be read");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument("--config " + path + ": not JSON: " + e.what());
  }
  if (!doc.is_object()) return Status::InvalidArgument("--config " + path + ": not a JSON object");
  if (!doc.contains("version") || doc["version"] != "v1")
    return Status::InvalidArgument("--config " + path + ": version: want \"v1\"");
  for (const auto& [key, value] : doc.items()) {
    if (key == "version") continue;
    const Field* field = nullptr;
    for (const auto& f : Fields()) field = key == f.file_key ? &f : field;
    const std::string origin = "--config " + path + ": " + key;
    if (field == nullptr) return Status::InvalidArgument(origin + ": unknown key");
    if (!value.is_string() && !value.is_number_integer())
      return Status::InvalidArgument(origin + ": must be a string or an integer");
    out[field->flag] = {origin, value.is_string() ? value.get<std::string>() : value.dump()};
  }
  return Status::Ok();
}

}  // namespace

std::string Usage() {
  std::ostringstream s;
  s << "usage: gpupool-device-plugin [--config FILE] [--FLAG=VALUE ...]\n";
  for (const auto& f : Fields()) s << "  --" << f.flag << "  (" << f.env << ")  " << f.help << "\n";
  return s.str();
}

Result<Config> LoadConfig(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env) {
  std::map<std::string, Setting> flags;  // by flag name
  std::string config_file;
  if (auto it = env.find("GPUPOOL_DEVICE_PLUGIN_CONFIG"); it != env.end()) config_file = it->second;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") return Status::NotFound("help");
    if (arg.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument \"" + arg + "\"");
    std::string name = arg.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Status::InvalidArgument("--" + name + ": missing value");
    }
    if (name == "config") {
      config_file = value;
      continue;
    }
    bool known = false;
    for (const auto& f : Fields()) known = known || name == f.flag;
    if (!known) return Status::InvalidArgument("unknown flag --" + name);
    flags[name] = {"--" + name + "=" + value, value};
  }

  std::map<std::string, Setting> settings;  // lowest precedence first, overwritten by higher ones
  if (!config_file.empty()) GPUPOOL_RETURN_IF_ERROR(ReadFile(config_file, settings));
  for (const auto& f : Fields())
    if (auto it = env.find(f.env); it != env.end())
      settings[f.flag] = {std::string(f.env) + "=" + it->second, it->second};
  for (auto& [name, s] : flags) settings[name] = s;

  Config config;
  for (const auto& f : Fields()) {
    auto it = settings.find(f.flag);
    if (it == settings.end()) continue;
    Status st = f.set(config, it->second.value);
    if (!st.ok()) return Status::InvalidArgument(it->second.origin + ": " + st.message());
  }
  if (config.gpu_percent == 0) config.gpu_percent = 100 * config.gpus;
  if (config.gpu_percent > 100 * config.gpus) {
    const auto it = settings.find("gpu-percent");
    return Status::InvalidArgument(it->second.origin + ": more than 100 x gpus (" +
                                   std::to_string(100 * config.gpus) + ")");
  }
  if (config.tls_ca_source.empty() != config.tls_ca_install.empty()) {
    return Status::InvalidArgument(
        "--tls-ca-source and --tls-ca-install go together: " +
        std::string(config.tls_ca_source.empty() ? "--tls-ca-source" : "--tls-ca-install") + " is missing");
  }
  if (config.kube_api_server.empty() && config.pool_health == PoolHealthMode::kGpupool) {
    auto host = env.find("KUBERNETES_SERVICE_HOST");
    auto port = env.find("KUBERNETES_SERVICE_PORT");
    if (host == env.end() || port == env.end() || host->second.empty())
      return Status::InvalidArgument(
          "--pool-health=gpupool: no API server (KUBERNETES_SERVICE_HOST/PORT unset and no "
          "--kube-api-server)");
    const bool v6 = host->second.find(':') != std::string::npos;
    config.kube_api_server = "https://" + (v6 ? "[" + host->second + "]" : host->second) + ":" + port->second;
  }
  return config;
}

}  // namespace gpupool::deviceplugin
