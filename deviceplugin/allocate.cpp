#include "deviceplugin/allocate.h"

#include <sys/stat.h>

namespace gpupool::deviceplugin {
namespace {

// Checked at every Allocate: the server may start after the plugin, or be gone (then nothing is
// offered, and the client uses TCP).
bool IsSocket(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

Result<v1beta1::AllocateResponse> BuildAllocateResponse(const v1beta1::AllocateRequest& request,
                                                        const std::set<std::string>& known,
                                                        const std::string& resource_name,
                                                        const Config& config) {
  if (request.container_requests_size() == 0)
    return Status::InvalidArgument("Allocate without container requests");
  v1beta1::AllocateResponse response;
  const bool local_server = IsSocket(config.local_socket);
  const std::size_t slash = config.local_socket.rfind('/');
  for (const auto& container : request.container_requests()) {
    if (container.devices_ids_size() == 0) return Status::InvalidArgument("Allocate of no devices");
    for (const auto& id : container.devices_ids())
      if (!known.count(id))
        return Status::InvalidArgument("unknown " + resource_name + " device \"" + id + "\"");
    auto* out = response.add_container_responses();
    auto* mount = out->add_mounts();
    mount->set_container_path(kContainerLibDir);
    mount->set_host_path(config.client_lib_dir);
    mount->set_read_only(true);
    (*out->mutable_envs())["LD_LIBRARY_PATH"] = kContainerLibDir;
    (*out->mutable_envs())["GPUPOOL_POD_INFO"] = kPodInfoPath;
    if (!config.tls_ca_file.empty()) (*out->mutable_envs())["GPUPOOL_TLS_CA_FILE"] = config.tls_ca_file;
    if (!config.tls_server_name.empty())
      (*out->mutable_envs())["GPUPOOL_TLS_SERVER_NAME"] = config.tls_server_name;
    if (!config.cdi_kind.empty()) out->add_cdi_devices()->set_name(config.cdi_kind + "=client");
    if (local_server) {
      auto* socket_dir = out->add_mounts();
      socket_dir->set_container_path(kContainerLocalSocketDir);
      socket_dir->set_host_path(config.local_socket.substr(0, slash));
      socket_dir->set_read_only(true);
      (*out->mutable_envs())["GPUPOOL_LOCAL_SOCKET"] =
          std::string(kContainerLocalSocketDir) + config.local_socket.substr(slash);
    }
  }
  return response;
}

}  // namespace gpupool::deviceplugin
