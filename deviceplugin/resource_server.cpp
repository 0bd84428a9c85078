#include "deviceplugin/resource_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"

namespace gpupool::deviceplugin {
namespace {

constexpr auto kSelfCheckDeadline = std::chrono::seconds(5);
constexpr auto kRegisterDeadline = std::chrono::seconds(5);
// Unary RPCs answer in well under a millisecond; ListAndWatch never ends by itself, so every stop waits
// this long once per server before cancelling the streams.
constexpr auto kStopGrace = std::chrono::milliseconds(100);

// A private subchannel pool: gRPC otherwise shares one subchannel per address across channels, and
// a kubelet.sock that refused us keeps its reconnect backoff (seconds, growing) even after kubelet
// is back. Our own retry loop does the backoff instead.
std::shared_ptr<grpc::Channel> UnixChannel(const std::string& path) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("unix://" + path, grpc::InsecureChannelCredentials(), args);
}

// wait_for_ready: our own socket was just bound, give it the deadline to accept. Register fails fast
// instead, so a dead kubelet costs one refused connect, not a deadline, and the supervisor retries.
grpc::ClientContext* WithDeadline(grpc::ClientContext& ctx, std::chrono::seconds d, bool wait_for_ready) {
  ctx.set_deadline(std::chrono::system_clock::now() + d);
  ctx.set_wait_for_ready(wait_for_ready);
  return &ctx;
}

}  // namespace

ResourceServer::ResourceServer(ResourceSpec spec, const Config& config)
    : spec_(std::move(spec)), config_(config), devices_(spec_.device_ids) {}

Status ResourceServer::Start() {
  Stop();
  const std::string path = socket_path();
  // Only a socket is ours to replace; anything else at that name is left alone and reported.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::FailedPrecondition(path + " exists and is not a socket");
    if (::unlink(path.c_str()) != 0) return Status::PermissionDenied(path + ": " + std::strerror(errno));
  }
  service_ = std::make_unique<DevicePluginService>(spec_.resource_name, config_, &devices_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_) {
    service_.reset();
    return Status::Unavailable("cannot serve on " + path);
  }
  v1beta1::DevicePlugin::Stub stub(UnixChannel(path));
  grpc::ClientContext ctx;
  v1beta1::Empty empty;
  v1beta1::DevicePluginOptions options;
  grpc::Status status =
      stub.GetDevicePluginOptions(WithDeadline(ctx, kSelfCheckDeadline, true), empty, &options);
  if (!status.ok()) {
    Stop();
    return Status::Unavailable("self-check of " + path + " failed: " + status.error_message());
  }
  GPUPOOL_LOG(kInfo) << "serving " << spec_.resource_name << " (" << spec_.device_ids.size()
                     << " devices) on " << path;
  return Status::Ok();
}

void ResourceServer::Stop() {
  if (!server_) return;
  // The deadline cancels the ListAndWatch streams, which never end on their own.
  server_->Shutdown(std::chrono::system_clock::now() + kStopGrace);
  server_->Wait();
  server_.reset();
  service_.reset();
  ::unlink(socket_path().c_str());
}

Status ResourceServer::Register() {
  const std::string kubelet = config_.device_plugin_dir + "/kubelet.sock";
  v1beta1::Registration::Stub stub(UnixChannel(kubelet));
  v1beta1::RegisterRequest request;
  request.set_version("v1beta1");
  request.set_endpoint(spec_.socket_name);
  request.set_resource_name(spec_.resource_name);
  *request.mutable_options() = PluginOptions();
  grpc::ClientContext ctx;
  v1beta1::Empty empty;
  grpc::Status status = stub.Register(WithDeadline(ctx, kRegisterDeadline, false), request, &empty);
  if (!status.ok())
    return Status::Unavailable("Register " + spec_.resource_name + " with " + kubelet + ": " +
                               status.error_message());
  GPUPOOL_LOG(kInfo) << "registered " << spec_.resource_name << " with kubelet";
  return Status::Ok();
}

}  // namespace gpupool::deviceplugin
