// A tiny Kubernetes API server for the device plugin's pool-health reader: serves GPUPools
// (GET /apis/gpupool.io/v1alpha1/gpupools[/NAME]) over HTTP, or HTTPS with a given certificate, on
// 127.0.0.1 with the operator's http::HttpServer, and records the Authorization header of each request.
//
// Thread-safety: setters and waits from the test thread; requests on the server's threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "operator/http/server.h"

namespace gpupool::testing {

class FakeApiServer {
 public:
  // Listens at once (REQUIREs success); HTTPS when cert_prefix names <prefix>.crt and <prefix>.key.
  explicit FakeApiServer(const std::string& cert_prefix = "");
  ~FakeApiServer();
  const std::string& url() const { return url_; }

  // A GPUPool with spec.default and one status GPU per entry of `gpus_healthy`.
  void SetPool(const std::string& name, bool is_default, const std::vector<bool>& gpus_healthy);
  void DeletePool(const std::string& name);
  // While set, every request gets HTTP 500.
  void SetFailing(bool failing);
  // Waits for a request carrying exactly this Authorization header.
  bool WaitForAuthorization(const std::string& header, std::chrono::milliseconds timeout);

 private:
  http::Response Serve(const http::Request& request);

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, nlohmann::json> pools_;
  bool failing_ = false;
  std::map<std::string, int> authorizations_;
  std::unique_ptr<http::HttpServer> server_;  // last: stops before what its handler uses goes
  std::string url_;
};

}  // namespace gpupool::testing
