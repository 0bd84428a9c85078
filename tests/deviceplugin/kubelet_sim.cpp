#include "tests/deviceplugin/kubelet_sim.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace gpupool::testing {

class KubeletSimulator::Service : public v1beta1::Registration::Service {
 public:
  explicit Service(KubeletSimulator* sim) : sim_(sim) {}
  grpc::Status Register(grpc::ServerContext*, const v1beta1::RegisterRequest* request,
                        v1beta1::Empty*) override {
    return sim_->OnRegister(*request);
  }

 private:
  KubeletSimulator* sim_;
};

KubeletSimulator::KubeletSimulator(std::string dir) : dir_(std::move(dir)) {}

KubeletSimulator::~KubeletSimulator() {
  Stop();
}

Status KubeletSimulator::Start() {
  service_ = std::make_unique<Service>(this);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + dir_ + "/kubelet.sock", grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  return server_ ? Status::Ok() : Status::Unavailable("cannot serve " + dir_ + "/kubelet.sock");
}

void KubeletSimulator::Stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_.reset();
  }
  std::vector<std::unique_ptr<Stream>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams.swap(streams_);
  }
  for (auto& s : streams) s->ctx->TryCancel();
  for (auto& s : streams) s->reader.join();
  ::unlink((dir_ + "/kubelet.sock").c_str());
}

Status KubeletSimulator::Restart() {
  Stop();
  for (const auto& entry : std::filesystem::directory_iterator(dir_))
    if (entry.is_socket()) std::filesystem::remove(entry.path());
  return Start();
}

grpc::Status KubeletSimulator::OnRegister(const v1beta1::RegisterRequest& request) {
  auto reject = [&](const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    rejected_.push_back(request.resource_name() + ": " + why);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
  };
  if (request.version() != "v1beta1") return reject("unsupported version " + request.version());
  const auto& name = request.resource_name();
  if (name.find('/') == std::string::npos || name.rfind("kubernetes.io/", 0) == 0)
    return reject("not an extended resource name");
  if (request.endpoint().empty() || request.endpoint().find('/') != std::string::npos)
    return reject("endpoint must be a file name in the directory");

  // As kubelet: dial with a 10 s deadline, then GetDevicePluginOptions right away.
  auto channel =
      grpc::CreateChannel("unix://" + dir_ + "/" + request.endpoint(), grpc::InsecureChannelCredentials());
  auto stub = v1beta1::DevicePlugin::NewStub(channel);
  grpc::ClientContext octx;
  octx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  octx.set_wait_for_ready(true);
  v1beta1::Empty empty;
  v1beta1::DevicePluginOptions options;
  if (auto st = stub->GetDevicePluginOptions(&octx, empty, &options); !st.ok())
    return reject("GetDevicePluginOptions: " + st.error_message());

  auto stream = std::make_unique<Stream>();
  stream->ctx = std::make_unique<grpc::ClientContext>();
  grpc::ClientContext* ctx = stream->ctx.get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_[name] = request;
    options_[name] = options;
    lists_received_[name] = 0;
    ++registrations_[name];
  }
  // ListAndWatch has no deadline in kubelet either; Stop() cancels it.
  stream->reader = std::thread([this, name, ctx, stub = std::move(stub)]() mutable {
    v1beta1::Empty req;
    auto reader = stub->ListAndWatch(ctx, req);
    v1beta1::ListAndWatchResponse list;
    while (reader->Read(&list)) {
      std::lock_guard<std::mutex> lock(mu_);
      lists_[name] = list;
      ++lists_received_[name];
      cv_.notify_all();
    }
    reader->Finish().ok();
  });
  std::lock_guard<std::mutex> lock(mu_);
  streams_.push_back(std::move(stream));
  cv_.notify_all();
  return grpc::Status::OK;
}

bool KubeletSimulator::WaitForRegistrations(const std::string& resource, int count,
                                            std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout,
                      [&] { return registrations_[resource] >= count && lists_received_[resource] > 0; });
}

Result<v1beta1::ListAndWatchResponse> KubeletSimulator::WaitForList(
    const std::string& resource, const std::function<bool(const v1beta1::ListAndWatchResponse&)>& pred,
    std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool ok =
      cv_.wait_for(lock, timeout, [&] { return lists_received_[resource] > 0 && pred(lists_[resource]); });
  if (!ok) return Status::DeadlineExceeded("no matching list for " + resource);
  return lists_[resource];
}

int KubeletSimulator::registrations(const std::string& resource) {
  std::lock_guard<std::mutex> lock(mu_);
  return registrations_[resource];
}

v1beta1::RegisterRequest KubeletSimulator::last_request(const std::string& resource) {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_[resource];
}

v1beta1::DevicePluginOptions KubeletSimulator::options(const std::string& resource) {
  std::lock_guard<std::mutex> lock(mu_);
  return options_[resource];
}

std::unique_ptr<v1beta1::DevicePlugin::Stub> KubeletSimulator::Client(const std::string& resource) {
  std::string endpoint;
  {
    std::lock_guard<std::mutex> lock(mu_);
    endpoint = requests_[resource].endpoint();
  }
  return v1beta1::DevicePlugin::NewStub(
      grpc::CreateChannel("unix://" + dir_ + "/" + endpoint, grpc::InsecureChannelCredentials()));
}

std::vector<std::string> KubeletSimulator::rejected() {
  std::lock_guard<std::mutex> lock(mu_);
  return rejected_;
}

}  // namespace gpupool::testing
