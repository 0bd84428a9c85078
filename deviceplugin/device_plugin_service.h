// The v1beta1.DevicePlugin gRPC service of one resource (callback API). ListAndWatch is a write
// reactor that sends the full list first and again on every change; Allocate and
// GetPreferredAllocation answer from memory only.
//
// Thread-safety: gRPC calls the handlers from its own threads; the service only reads its config
// and the DeviceList (itself thread-safe). Lifetime: `devices` must outlive the service.
#pragma once

#include "deviceplugin/config.h"
#include "deviceplugin/device_list.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace gpupool::deviceplugin {

// What this plugin tells kubelet, both in RegisterRequest.options and in GetDevicePluginOptions.
v1beta1::DevicePluginOptions PluginOptions();

class DevicePluginService : public v1beta1::DevicePlugin::CallbackService {
 public:
  DevicePluginService(std::string resource_name, const Config& config, DeviceList* devices)
      : resource_name_(std::move(resource_name)), config_(config), devices_(devices) {}

  grpc::ServerUnaryReactor* GetDevicePluginOptions(grpc::CallbackServerContext* ctx,
                                                   const v1beta1::Empty* request,
                                                   v1beta1::DevicePluginOptions* response) override;
  grpc::ServerWriteReactor<v1beta1::ListAndWatchResponse>* ListAndWatch(
      grpc::CallbackServerContext* ctx, const v1beta1::Empty* request) override;
  grpc::ServerUnaryReactor* GetPreferredAllocation(grpc::CallbackServerContext* ctx,
                                                   const v1beta1::PreferredAllocationRequest* request,
                                                   v1beta1::PreferredAllocationResponse* response) override;
  grpc::ServerUnaryReactor* Allocate(grpc::CallbackServerContext* ctx,
                                     const v1beta1::AllocateRequest* request,
                                     v1beta1::AllocateResponse* response) override;
  grpc::ServerUnaryReactor* PreStartContainer(grpc::CallbackServerContext* ctx,
                                              const v1beta1::PreStartContainerRequest* request,
                                              v1beta1::PreStartContainerResponse* response) override;

 private:
  const std::string resource_name_;
  const Config config_;
  DeviceList* devices_;
};

}  // namespace gpupool::deviceplugin
