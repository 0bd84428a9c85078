#include "deviceplugin/device_plugin_service.h"

#include "common/log.h"
#include "deviceplugin/allocate.h"
#include "deviceplugin/devices.h"

namespace gpupool::deviceplugin {
namespace {

// One ListAndWatch stream. Deletes itself in OnDone, after leaving the DeviceList.
class ListAndWatchReactor : public grpc::ServerWriteReactor<v1beta1::ListAndWatchResponse>,
                            public DeviceListWatcher {
 public:
  explicit ListAndWatchReactor(DeviceList* devices) : devices_(devices) { devices_->Subscribe(this); }

  void Offer(DeviceListMessage message) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (writing_) {
      pending_ = std::move(message);
      return;
    }
    writing_ = true;
    in_flight_ = std::move(message);
    StartWrite(in_flight_.get());
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ok && !finished_) {
        if (pending_) {
          in_flight_ = std::move(pending_);
          pending_.reset();
          StartWrite(in_flight_.get());
        } else {
          writing_ = false;
        }
        return;
      }
      writing_ = false;
    }
    FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
  }

  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

  void OnDone() override {
    devices_->Unsubscribe(this);
    delete this;
  }

 private:
  // Finish outside the lock: gRPC may run OnDone, which deletes this, as soon as Finish is called.
  void FinishOnce(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  DeviceList* devices_;
  std::mutex mu_;
  bool writing_ = false;
  bool finished_ = false;
  DeviceListMessage in_flight_;  // kept alive until its write completes
  DeviceListMessage pending_;
};

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx,
                               const grpc::Status& status = grpc::Status::OK) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

v1beta1::DevicePluginOptions PluginOptions() {
  v1beta1::DevicePluginOptions options;
  options.set_pre_start_required(false);
  options.set_get_preferred_allocation_available(true);
  return options;
}

grpc::ServerUnaryReactor* DevicePluginService::GetDevicePluginOptions(
    grpc::CallbackServerContext* ctx, const v1beta1::Empty*, v1beta1::DevicePluginOptions* response) {
  *response = PluginOptions();
  return Done(ctx);
}

grpc::ServerWriteReactor<v1beta1::ListAndWatchResponse>* DevicePluginService::ListAndWatch(
    grpc::CallbackServerContext*, const v1beta1::Empty*) {
  GPUPOOL_LOG(kDebug) << "ListAndWatch opened for " << resource_name_;
  return new ListAndWatchReactor(devices_);
}

grpc::ServerUnaryReactor* DevicePluginService::GetPreferredAllocation(
    grpc::CallbackServerContext* ctx, const v1beta1::PreferredAllocationRequest* request,
    v1beta1::PreferredAllocationResponse* response) {
  for (const auto& c : request->container_requests()) {
    if (c.allocation_size() < 0)
      return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "negative allocation_size"));
    const std::vector<std::string> available(c.available_deviceids().begin(), c.available_deviceids().end());
    const std::vector<std::string> must(c.must_include_deviceids().begin(), c.must_include_deviceids().end());
    auto* out = response->add_container_responses();
    for (auto& id : PreferredAllocation(available, must, c.allocation_size()))
      out->add_deviceids(std::move(id));
  }
  return Done(ctx);
}

grpc::ServerUnaryReactor* DevicePluginService::Allocate(grpc::CallbackServerContext* ctx,
                                                        const v1beta1::AllocateRequest* request,
                                                        v1beta1::AllocateResponse* response) {
  auto built = BuildAllocateResponse(*request, devices_->ids(), resource_name_, config_);
  if (!built.ok()) {
    GPUPOOL_LOG(kWarn) << "Allocate refused: " << built.status().message();
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, built.status().message()));
  }
  *response = std::move(built).value();
  return Done(ctx);
}

grpc::ServerUnaryReactor* DevicePluginService::PreStartContainer(grpc::CallbackServerContext* ctx,
                                                                 const v1beta1::PreStartContainerRequest*,
                                                                 v1beta1::PreStartContainerResponse*) {
  // Not advertised (pre_start_required is false): kubelet never calls it; answer OK if anyone does.
  return Done(ctx);
}

}  // namespace gpupool::deviceplugin
