#include "deviceplugin/allocate.h"

namespace gpupool::deviceplugin {

Result<v1beta1::AllocateResponse> BuildAllocateResponse(const v1beta1::AllocateRequest& request,
                                                        const std::set<std::string>& known,
                                                        const std::string& resource_name,
                                                        const Config& config) {
  if (request.container_requests_size() == 0)
    return Status::InvalidArgument("Allocate without container requests");
  v1beta1::AllocateResponse response;
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
  }
  return response;
}

}  // namespace gpupool::deviceplugin
