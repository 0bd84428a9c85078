// ClusterConfig: how to reach the API server (address, TLS, credentials), from the in-cluster service
// account or from a kubeconfig file.
//
// In cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, the token file (re-read as it
// rotates, see token_source.h), ca.crt and the namespace file. kubeconfig: current-context (or the
// one named), its cluster's server, certificate-authority(-data), insecure-skip-tls-verify,
// tls-server-name, and its user's token / tokenFile, client-certificate(-data) / client-key(-data).
// Relative file paths resolve against the kubeconfig's directory. Unsupported user kinds (exec,
// auth-provider, username/password) are rejected with a message naming them, not silently ignored.
//
// Thread-safety: values (the TokenSource inside is itself thread-safe).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/kube/token_source.h"
#include "common/status.h"

namespace gpupool::kube {

struct ClusterConfig {
  std::string server;  // "https://10.96.0.1:443" or "http://127.0.0.1:8080"
  std::string ca_pem;  // PEM bundle to verify the server; empty = system roots
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // name to verify instead of the URL's host; "" = the host
  std::string client_cert_pem;  // client certificate (PEM), with client_key_pem
  std::string client_key_pem;
  std::shared_ptr<TokenSource> token;  // null: no Authorization header
  std::string namespace_;              // context / service-account namespace; "" if unknown
};

struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// Looks up an environment variable (tests pass their own); nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// FailedPrecondition "not running in a cluster" when the service env variables are unset.
Result<ClusterConfig> InClusterConfig(const EnvLookup& env = ProcessEnv(), const InClusterPaths& paths = {});
// Parses kubeconfig text (YAML or JSON). `base_dir` resolves relative paths; an empty `context`
// means current-context.
Result<ClusterConfig> ParseKubeconfig(std::string_view text, const std::string& base_dir,
                                      std::string_view context = "");
Result<ClusterConfig> LoadKubeconfig(const std::string& path, std::string_view context = "");
// The operator's rule: --kubeconfig if given, else in-cluster, else $KUBECONFIG (first file of a
// ':' list), else ~/.kube/config.
Result<ClusterConfig> ResolveConfig(const std::string& kubeconfig_flag, const EnvLookup& env = ProcessEnv());

}  // namespace gpupool::kube
