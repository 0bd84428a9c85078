#include "operator/flags.h"

#include <charconv>
#include <functional>
#include <map>

namespace gpupool {
namespace {

Status Int(const std::string& flag, const std::string& v, int min, int& out) {
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < min) {
    return Status::InvalidArgument(flag + ": \"" + v + "\" is not an integer >= " + std::to_string(min));
  }
  out = n;
  return Status::Ok();
}

}  // namespace

std::string OperatorUsage() {
  return "usage: gpupool-operator [flags]\n"
         "  --kubeconfig FILE               kubeconfig (default: in-cluster, then $KUBECONFIG)\n"
         "  --leader-elect=BOOL             elect a leader with a Lease (default true)\n"
         "  --leader-election-lease NAME    Lease name (default gpupool-operator)\n"
         "  --leader-election-namespace NS  Lease namespace (default $POD_NAMESPACE)\n"
         "  --webhook-listen HOST:PORT      admission webhook, HTTPS (default 0.0.0.0:9443; \"\" = off)\n"
         "  --webhook-cert-dir DIR          serve tls.crt/tls.key from DIR (cert-manager)\n"
         "  --webhook-tls-secret NAME       keep a generated CA + certificate in this Secret\n"
         "  --webhook-service NAME          Service the certificate is for (default gpupool-operator)\n"
         "  --webhook-configuration NAME    MutatingWebhookConfiguration whose caBundle is written\n"
         "  --metrics-listen HOST:PORT      /metrics /healthz /readyz (default 0.0.0.0:8080)\n"
         "  --binder-workers N              pods bound in parallel (default 4)\n"
         "  --probe-interval-seconds N      how often servers are probed (default 10)\n"
         "  --server-unhealthy-after-seconds N\n"
         "                                  a server whose Control API has not answered for N s has its\n"
         "                                  GPUs marked unhealthy (default 20)\n"
         "  --server-tls-ca-file FILE       the servers' Control API is TLS: their certificates' CA\n"
         "  --server-tls-server-name NAME   the name those certificates carry (default: the address)\n"
         "  --server-token-file FILE        the servers' token, sent with every Control call\n"
         "  --server-tls-secret NAME        make the servers' CA and certificate (for the name of\n"
         "                                  --server-tls-server-name) into this Secret, if it is empty\n";
}

Result<OperatorFlags> ParseOperatorFlags(const std::vector<std::string>& args) {
  OperatorFlags f;
  const std::map<std::string, std::string*> strings = {
      {"--kubeconfig", &f.kubeconfig},
      {"--leader-election-lease", &f.leader_election_lease},
      {"--leader-election-namespace", &f.leader_election_namespace},
      {"--webhook-listen", &f.webhook_listen},
      {"--webhook-configuration", &f.webhook_configuration},
      {"--webhook-service", &f.webhook_service},
      {"--webhook-cert-dir", &f.webhook_cert_dir},
      {"--webhook-tls-secret", &f.webhook_tls_secret},
      {"--metrics-listen", &f.metrics_listen},
      {"--server-tls-ca-file", &f.server_tls_ca_file},
      {"--server-tls-server-name", &f.server_tls_server_name},
      {"--server-token-file", &f.server_token_file},
      {"--server-tls-secret", &f.server_tls_secret}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    const bool inline_value = name.find('=') != std::string::npos;
    if (inline_value) {
      value = name.substr(name.find('=') + 1);
      name = name.substr(0, name.find('='));
    }
    if (name == "--help" || name == "-h") {
      f.help = true;
      continue;
    }
    if (name == "--leader-elect") {
      if (!inline_value || value == "true")
        f.leader_elect = true;
      else if (value == "false")
        f.leader_elect = false;
      else
        return Status::InvalidArgument("--leader-elect: \"" + value + "\" is not true or false");
      continue;
    }
    const std::map<std::string, int*> ints = {
        {"--binder-workers", &f.binder_workers},
        {"--probe-interval-seconds", &f.probe_interval_s},
        {"--server-unhealthy-after-seconds", &f.server_unhealthy_after_s}};
    const bool known = strings.count(name) > 0 || ints.count(name) > 0;
    if (!known) return Status::InvalidArgument("unknown flag " + name);
    if (!inline_value) {
      if (i + 1 >= args.size()) return Status::InvalidArgument(name + " needs a value");
      value = args[++i];
    }
    if (auto it = strings.find(name); it != strings.end()) {
      *it->second = value;
    } else {
      GPUPOOL_RETURN_IF_ERROR(Int(name, value, 1, *ints.at(name)));
    }
  }
  if (!f.webhook_cert_dir.empty() && !f.webhook_tls_secret.empty()) {
    return Status::InvalidArgument("--webhook-cert-dir and --webhook-tls-secret exclude each other");
  }
  return f;
}

}  // namespace gpupool
