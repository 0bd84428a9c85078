// gpupool-operator's command line, as the chart passes it (deploy/helm/gpupool/templates/
// operator-deployment.yaml). Flags take --name=value or --name value; booleans also bare --name.
//
// Thread-safety: values and pure functions.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace gpupool {

struct OperatorFlags {
  std::string kubeconfig;  // "" = in cluster (then $KUBECONFIG, ~/.kube/config)
  bool leader_elect = true;
  std::string leader_election_lease = "gpupool-operator";
  std::string leader_election_namespace;        // "" = $POD_NAMESPACE or the config's namespace
  std::string webhook_listen = "0.0.0.0:9443";  // "" = no webhook
  std::string webhook_configuration;            // MutatingWebhookConfiguration whose caBundle we write
  std::string webhook_service = "gpupool-operator";
  std::string webhook_cert_dir;    // cert-manager: tls.crt, tls.key, ca.crt
  std::string webhook_tls_secret;  // tls.mode=operator: Secret we fill
  std::string metrics_listen = "0.0.0.0:8080";
  int binder_workers = 4;
  int probe_interval_s = 10;
  int server_unhealthy_after_s = 20;  // a server silent this long: its GPUs are marked unhealthy
  // How the operator reaches gpupool-server's Control API (common/control/control_channel.h).
  std::string server_tls_ca_file;      // TLS, checked against this CA
  std::string server_tls_server_name;  // the name the servers' certificate carries
  std::string server_token_file;       // the servers' token (--token-file), sent with every call
  std::string server_tls_secret;       // Secret the operator fills with the servers' CA and certificate
  bool help = false;
};

// InvalidArgument naming the flag for unknown flags, missing values and bad numbers.
Result<OperatorFlags> ParseOperatorFlags(const std::vector<std::string>& args);
std::string OperatorUsage();

}  // namespace gpupool
