#include "tests/deviceplugin/fake_api_server.h"

#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace gpupool::testing {
namespace {

constexpr const char* kCollection = "/apis/gpupool.io/v1alpha1/gpupools";

// A port the kernel just handed out on loopback; free again when this returns.
int PickPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

FakeApiServer::FakeApiServer(const std::string& cert_prefix) {
  using namespace web::http;
  experimental::listener::http_listener_config config;
  if (!cert_prefix.empty()) {
    config.set_ssl_context_callback([cert_prefix](boost::asio::ssl::context& ctx) {
      ctx.use_certificate_chain_file(cert_prefix + ".crt");
      ctx.use_private_key_file(cert_prefix + ".key", boost::asio::ssl::context::pem);
    });
  }
  url_ = std::string(cert_prefix.empty() ? "http" : "https") + "://127.0.0.1:" + std::to_string(PickPort());
  listener_ = std::make_unique<experimental::listener::http_listener>(url_, config);
  listener_->support(methods::GET, [this](http_request request) {
    const std::string path = request.relative_uri().path();
    const std::string auth = request.headers().has("Authorization") ? request.headers()["Authorization"] : "";
    status_code code = status_codes::OK;
    nlohmann::json body;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++authorizations_[auth];
      cv_.notify_all();
      if (failing_) {
        code = status_codes::InternalError;
        body = {{"kind", "Status"}, {"message", "injected failure"}};
      } else if (path == kCollection) {
        body = {{"kind", "GPUPoolList"}, {"items", nlohmann::json::array()}};
        for (const auto& [name, pool] : pools_) body["items"].push_back(pool);
      } else if (path.rfind(std::string(kCollection) + "/", 0) == 0 &&
                 pools_.count(path.substr(std::string(kCollection).size() + 1))) {
        body = pools_.at(path.substr(std::string(kCollection).size() + 1));
      } else {
        code = status_codes::NotFound;
        body = {{"kind", "Status"}, {"reason", "NotFound"}};
      }
    }
    request.reply(code, body.dump(), "application/json").wait();
  });
  listener_->open().wait();
}

FakeApiServer::~FakeApiServer() {
  listener_->close().wait();
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
