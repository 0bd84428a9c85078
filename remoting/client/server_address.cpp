#include "remoting/client/server_address.h"

#include <cstdlib>

#include "common/binding/binding.h"
#include "common/log.h"
#include "common/read_file.h"
#include "common/token_file.h"

namespace gpupool::client {
namespace {

// The binding's first GPU, which names the server this client uses. The session there sees every
// GPU the pod was admitted on at that server (the operator puts all of a pod's GPUs on one server).
// A binding that spans servers (made before the operator kept them together) gets a warning: the
// process sees only the first server's GPUs.
Result<GpuBinding> GpuFromPodInfo(const std::string& path) {
  GPUPOOL_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  GPUPOOL_ASSIGN_OR_RETURN(auto annotations, ParseDownwardAnnotations(text));
  auto it = annotations.find(std::string(kBindingAnnotation));
  if (it == annotations.end()) return Status::NotFound(path + " has no " + std::string(kBindingAnnotation));
  GPUPOOL_ASSIGN_OR_RETURN(Binding binding, BindingFromJson(it->second));
  if (binding.gpus.empty()) return Status::NotFound("the pod binding in " + path + " names no GPU");
  const GpuBinding& first = binding.gpus.front();
  std::string elsewhere;
  for (const GpuBinding& gpu : binding.gpus) {
    if (gpu.server != first.server)
      elsewhere += (elsewhere.empty() ? "" : ", ") + gpu.uuid + " on " + gpu.server;
  }
  if (!elsewhere.empty()) {
    GPUPOOL_LOG_ONCE(kWarn, "binding of several servers")
        << "the pod's binding spans servers; this process uses the GPUs on " << first.server << " only, not "
        << elsewhere;
  }
  return first;
}

}  // namespace

std::string ProcessEnvironment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

Result<ServerAddress> FindServer(const EnvLookup& env) {
  std::string text = env("GPUPOOL_SERVER");
  std::string gpu_uuid, local_socket;
  if (text.empty()) {
    const std::string pod_info = env(std::string(kPodInfoEnv).c_str());
    if (pod_info.empty()) return Status::NotFound("neither GPUPOOL_SERVER nor GPUPOOL_POD_INFO is set");
    auto gpu = GpuFromPodInfo(pod_info);
    if (!gpu.ok()) return gpu.status().Annotate("GPUPOOL_POD_INFO");
    text = gpu->server;
    gpu_uuid = gpu->uuid;
    // Only a binding names the GPU that decides whether the local server may be used instead.
    local_socket = env(std::string(kLocalSocketEnv).c_str());
  }
  auto endpoint = ParseEndpoint(text);
  if (!endpoint.ok()) return endpoint.status().Annotate("server address");
  ServerAddress address;
  address.endpoint = *endpoint;
  address.gpu_uuid = std::move(gpu_uuid);
  address.local_socket = std::move(local_socket);
  address.pod_uid = env(std::string(kPodUidEnv).c_str());
  const std::string token_file = env("GPUPOOL_TOKEN_FILE");
  if (!token_file.empty()) {
    GPUPOOL_ASSIGN_OR_RETURN(address.token, ReadTokenFile(token_file));
  }
  // Read for every connection: the kubelet replaces the file before the token expires.
  const std::string pod_token_file = env(std::string(kPodTokenFileEnv).c_str());
  if (!pod_token_file.empty()) {
    auto pod_token = ReadTokenFile(pod_token_file);
    if (!pod_token.ok()) return pod_token.status().Annotate(std::string(kPodTokenFileEnv));
    address.pod_token = std::move(*pod_token);
  }
  address.tls.ca_file = env("GPUPOOL_TLS_CA_FILE");
  address.tls.server_name = env("GPUPOOL_TLS_SERVER_NAME");
  address.tls.cert_file = env("GPUPOOL_TLS_CERT_FILE");
  address.tls.key_file = env("GPUPOOL_TLS_KEY_FILE");
  address.use_tls = address.endpoint.kind == Endpoint::Kind::kTcp && !address.tls.ca_file.empty();
  if (!address.use_tls && address.endpoint.kind == Endpoint::Kind::kTcp &&
      (!address.tls.cert_file.empty() || !address.tls.server_name.empty())) {
    return Status::InvalidArgument(
        "GPUPOOL_TLS_* is set without GPUPOOL_TLS_CA_FILE, the CA to check the server against");
  }
  return address;
}

}  // namespace gpupool::client
