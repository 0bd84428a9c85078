// Kubernetes backend of PoolHealthSource: a GET of one GPUPool (or a LIST to find the default pool)
// with in-cluster credentials. The token file is re-read on every request because kubelet rotates
// projected service-account tokens. cpprestsdk exceptions stop here and become Status.
#include <cpprest/http_client.h>

#include <fstream>
#include <sstream>

#include "common/log.h"
#include "deviceplugin/pool_health.h"
#include "deviceplugin/pool_status.h"

namespace gpupool::deviceplugin {
namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr const char* kCollection = "/apis/gpupool.io/v1alpha1/gpupools";

class KubernetesPoolHealth : public PoolHealthSource {
 public:
  explicit KubernetesPoolHealth(const Config& config) : config_(config) {
    web::http::client::http_client_config http;
    http.set_timeout(kRequestTimeout);
    if (config.kube_api_server.rfind("https://", 0) == 0) {
      const std::string ca = config.kube_ca_file;
      http.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) { ctx.load_verify_file(ca); });
    }
    client_ = std::make_unique<web::http::client::http_client>(config.kube_api_server, http);
  }

  Result<bool> Check() override {
    std::string name = config_.pool;
    if (name.empty()) {
      GPUPOOL_ASSIGN_OR_RETURN(auto list, Get(kCollection));
      GPUPOOL_ASSIGN_OR_RETURN(name, DefaultPoolName(list));
    }
    auto pool = Get(std::string(kCollection) + "/" + name);
    if (!pool.ok() && pool.status().code() == Code::kNotFound) {
      GPUPOOL_LOG_ONCE(kWarn, "pool-missing") << "GPUPool " << name << " does not exist: devices unhealthy";
      return false;
    }
    if (!pool.ok()) return pool.status();
    return AnyHealthyGpu(*pool);
  }

  std::string Describe() const override {
    return "GPUPool " + (config_.pool.empty() ? std::string("(the default pool)") : config_.pool) + " at " +
           config_.kube_api_server;
  }

 private:
  Result<nlohmann::json> Get(const std::string& path) {
    std::ifstream token_in(config_.kube_token_file);
    if (!token_in) return Status::Unauthenticated("cannot read token file " + config_.kube_token_file);
    std::stringstream token;
    token << token_in.rdbuf();
    std::string bearer = token.str();
    while (!bearer.empty() && (bearer.back() == '\n' || bearer.back() == '\r' || bearer.back() == ' '))
      bearer.pop_back();
    web::http::http_request request(web::http::methods::GET);
    request.set_request_uri(path);
    request.headers().add("Authorization", "Bearer " + bearer);
    request.headers().add("Accept", "application/json");
    try {
      auto response = client_->request(request).get();
      const std::string body = response.extract_utf8string(true).get();
      const auto code = response.status_code();
      if (code == 404) return Status::NotFound(path + ": 404");
      if (code != 200)
        return Status::Unavailable(path + ": HTTP " + std::to_string(code) + ": " + body.substr(0, 200));
      return nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(path + ": answer is not JSON: " + e.what());
    } catch (const std::exception& e) {
      return Status::Unavailable(path + ": " + e.what());
    }
  }

  Config config_;
  std::unique_ptr<web::http::client::http_client> client_;
};

}  // namespace

std::unique_ptr<PoolHealthSource> MakeKubernetesPoolHealth(const Config& config) {
  return std::make_unique<KubernetesPoolHealth>(config);
}

}  // namespace gpupool::deviceplugin
