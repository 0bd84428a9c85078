#include "tests/deviceplugin/fake_api_server.h"

#include <catch2/catch.hpp>

#include "common/read_file.h"

namespace gpupool::testing {
namespace {

constexpr const char* kCollection = "/apis/gpupool.io/v1alpha1/gpupools";

std::string ReadFile(const std::string& path) {
  auto text = ReadTextFile(path);
  REQUIRE(text.ok());
  return *text;
}

}  // namespace

FakeApiServer::FakeApiServer(const std::string& cert_prefix) {
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  if (!cert_prefix.empty())
    options.tls = http::ServerTls{ReadFile(cert_prefix + ".crt"), ReadFile(cert_prefix + ".key")};
  auto started = http::HttpServer::Start(options, [this](const http::Request& r) { return Serve(r); });
  REQUIRE(started.ok());
  server_ = std::move(*started);
  url_ =
      std::string(cert_prefix.empty() ? "http" : "https") + "://127.0.0.1:" + std::to_string(server_->port());
}

FakeApiServer::~FakeApiServer() = default;

http::Response FakeApiServer::Serve(const http::Request& request) {
  const auto header = request.headers.find("authorization");
  const std::string auth = header == request.headers.end() ? "" : header->second;
  const std::string item_prefix = std::string(kCollection) + "/";
  int code = 200;
  nlohmann::json body;
  std::lock_guard<std::mutex> lock(mu_);
  ++authorizations_[auth];
  cv_.notify_all();
  if (failing_) {
    code = 500;
    body = {{"kind", "Status"}, {"message", "injected failure"}};
  } else if (request.method != "GET") {
    code = 405;
    body = {{"kind", "Status"}, {"reason", "MethodNotAllowed"}};
  } else if (request.path == kCollection) {
    body = {{"kind", "GPUPoolList"}, {"items", nlohmann::json::array()}};
    for (const auto& [name, pool] : pools_) body["items"].push_back(pool);
  } else if (request.path.rfind(item_prefix, 0) == 0 &&
             pools_.count(request.path.substr(item_prefix.size()))) {
    body = pools_.at(request.path.substr(item_prefix.size()));
  } else {
    code = 404;
    body = {{"kind", "Status"}, {"reason", "NotFound"}};
  }
  return {code, "application/json", body.dump()};
}

void FakeApiServer::SetPool(const std::string& name, bool is_default, const std::vector<bool>& gpus_healthy) {
  nlohmann::json gpus = nlohmann::json::array();
  for (std::size_t i = 0; i < gpus_healthy.size(); ++i)
    gpus.push_back({{"server", "gpu-0" + std::to_string(i) + ":7470"},
                    {"uuid", "GPU-" + std::to_string(i)},
                    {"healthy", static_cast<bool>(gpus_healthy[i])}});
  std::lock_guard<std::mutex> lock(mu_);
  pools_[name] = {{"apiVersion", "gpupool.io/v1alpha1"},
                  {"kind", "GPUPool"},
                  {"metadata", {{"name", name}}},
                  {"spec", {{"default", is_default}}},
                  {"status", {{"gpus", gpus}}}};
}

void FakeApiServer::DeletePool(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  pools_.erase(name);
}

void FakeApiServer::SetFailing(bool failing) {
  std::lock_guard<std::mutex> lock(mu_);
  failing_ = failing;
}

bool FakeApiServer::WaitForAuthorization(const std::string& header, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return authorizations_[header] > 0; });
}

}  // namespace gpupool::testing
