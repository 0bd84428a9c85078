// A kubelet stand-in for device-plugin tests: it speaks the real v1beta1 gRPC API over Unix sockets,
// the way kubelet's device manager does (docs/deviceplugin.md): a Registration server on
// <dir>/kubelet.sock; on Register it validates the request, dials <dir>/<endpoint>, asks
// GetDevicePluginOptions, and keeps a ListAndWatch stream open, recording every list it receives.
//
// Thread-safety: all methods are safe from the test thread while gRPC threads deliver events.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace gpupool::testing {

class KubeletSimulator {
 public:
  explicit KubeletSimulator(std::string dir);
  ~KubeletSimulator();

  // Serves Registration on <dir>/kubelet.sock.
  Status Start();
  // Stops serving, cancels every ListAndWatch stream, removes kubelet.sock.
  void Stop();
  // What kubelet does when it restarts: stop, delete every socket in the directory, start again.
  Status Restart();

  // Waits until `resource` has been registered `count` times in all (and its stream gave a list).
  bool WaitForRegistrations(const std::string& resource, int count, std::chrono::milliseconds timeout);
  // Waits until the newest list of `resource` satisfies `pred`; returns it.
  Result<v1beta1::ListAndWatchResponse> WaitForList(
      const std::string& resource, const std::function<bool(const v1beta1::ListAndWatchResponse&)>& pred,
      std::chrono::milliseconds timeout);

  int registrations(const std::string& resource);
  v1beta1::RegisterRequest last_request(const std::string& resource);
  v1beta1::DevicePluginOptions options(const std::string& resource);
  // A client of the newest endpoint of `resource`.
  std::unique_ptr<v1beta1::DevicePlugin::Stub> Client(const std::string& resource);
  // Registrations refused, with why.
  std::vector<std::string> rejected();

 private:
  class Service;
  struct Stream {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::thread reader;
  };
  // Called by Service::Register.
  grpc::Status OnRegister(const v1beta1::RegisterRequest& request);

  const std::string dir_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> registrations_;
  std::map<std::string, v1beta1::RegisterRequest> requests_;
  std::map<std::string, v1beta1::DevicePluginOptions> options_;
  std::map<std::string, v1beta1::ListAndWatchResponse> lists_;
  std::map<std::string, int> lists_received_;  // per resource, since its last registration
  std::vector<std::string> rejected_;
  std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace gpupool::testing
