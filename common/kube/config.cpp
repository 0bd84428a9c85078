// In-cluster configuration and the operator's config resolution rule.
#include "common/kube/config.h"

#include <cstdlib>

#include "common/read_file.h"

namespace gpupool::kube {
EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<ClusterConfig> InClusterConfig(const EnvLookup& env, const InClusterPaths& paths) {
  std::string host = env("KUBERNETES_SERVICE_HOST").value_or("");
  std::string port = env("KUBERNETES_SERVICE_PORT").value_or("");
  if (host.empty() || port.empty()) {
    return Status::FailedPrecondition(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  ClusterConfig c;
  bool ipv6 = host.find(':') != std::string::npos;
  c.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  auto ca = ReadTextFile(paths.ca_file);
  if (!ca.ok()) return ca.status().Annotate("in-cluster CA");
  c.ca_pem = *ca;
  c.token = TokenSource::FromFile(paths.token_file);
  GPUPOOL_RETURN_IF_ERROR(c.token->Token().status().Annotate("in-cluster service-account token"));
  auto ns = ReadTextFile(paths.namespace_file);
  if (ns.ok()) {
    std::string v = *ns;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    c.namespace_ = v;
  }
  return c;
}

Result<ClusterConfig> ResolveConfig(const std::string& kubeconfig_flag, const EnvLookup& env) {
  if (!kubeconfig_flag.empty()) return LoadKubeconfig(kubeconfig_flag);
  if (env("KUBERNETES_SERVICE_HOST").has_value()) return InClusterConfig(env);
  std::string list = env("KUBECONFIG").value_or("");
  std::string first = list.substr(0, list.find(':'));
  if (!first.empty()) return LoadKubeconfig(first);
  std::string home = env("HOME").value_or("");
  if (home.empty()) {
    return Status::FailedPrecondition("no --kubeconfig, not in a cluster, no $KUBECONFIG and no $HOME");
  }
  return LoadKubeconfig(home + "/.kube/config");
}

}  // namespace gpupool::kube
