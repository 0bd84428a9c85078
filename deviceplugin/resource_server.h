// One resource's gRPC server on its own Unix socket in the device-plugin directory, and its
// registration with kubelet. Start order (STYLE §4): serve, self-check over the socket, then
// Register. The DeviceList outlives restarts, so health survives a kubelet restart.
//
// Thread-safety: Start/Stop/Register from the supervisor thread only; SetHealthy from any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "deviceplugin/config.h"
#include "deviceplugin/device_list.h"
#include "deviceplugin/device_plugin_service.h"
#include "deviceplugin/devices.h"

namespace gpupool::deviceplugin {

class ResourceServer {
 public:
  ResourceServer(ResourceSpec spec, const Config& config);
  ~ResourceServer() { Stop(); }

  // Removes a stale socket of ours, serves on it, and checks it answers GetDevicePluginOptions.
  Status Start();
  // Ends open streams, stops serving and removes the socket. Idempotent.
  void Stop();
  // Register with <dir>/kubelet.sock (deadline a few seconds; waits for the socket to accept).
  Status Register();
  bool serving() const { return server_ != nullptr; }

  void SetHealthy(bool healthy) { devices_.SetHealthy(healthy); }
  const ResourceSpec& spec() const { return spec_; }
  std::string socket_path() const { return config_.device_plugin_dir + "/" + spec_.socket_name; }

 private:
  const ResourceSpec spec_;
  const Config config_;
  DeviceList devices_;
  std::unique_ptr<DevicePluginService> service_;  // a fresh one per Start: one server per service
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace gpupool::deviceplugin
