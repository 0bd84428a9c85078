// RestClient: Client over HTTP(S) with cpprestsdk, configured from a ClusterConfig.
//
// - Every request carries a deadline (request_timeout); a watch uses its own connection and an
//   inactivity deadline (watch_idle_timeout) that must exceed the server's bookmark interval.
// - A 401 drops the cached token (it may have rotated) and retries once with a re-read token.
// - 429 / 5xx answers that carry Retry-After are retried up to max_retries times after that delay
//   (client-go's rule); everything else is returned to the caller as a typed error.
// - Counts requests per verb (get, list, watch, create, update, patch, delete) for benchmarks.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/kube/client.h"
#include "common/kube/config.h"

namespace gpupool::kube {

struct RestOptions {
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds watch_idle_timeout{std::chrono::seconds(330)};
  int max_retries = 3;                                                  // Retry-After retries per request
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(10)};  // longest wait honoured
  std::string user_agent = "gpupool-operator";
};

class RestClient final : public Client {
 public:
  // Fails on a malformed server URL or unusable TLS material.
  static Result<std::unique_ptr<RestClient>> Create(ClusterConfig config, RestOptions options = {});
  ~RestClient() override;

  Result<Json> Get(const Resource& r, std::string_view ns, std::string_view name) override;
  Result<Json> List(const Resource& r, std::string_view ns, const ListOptions& opts) override;
  Result<Json> Create(const Resource& r, std::string_view ns, const Json& obj) override;
  Result<Json> Update(const Resource& r, const Json& obj) override;
  Result<Json> UpdateStatus(const Resource& r, const Json& obj) override;
  Result<Json> Patch(const Resource& r, std::string_view ns, std::string_view name, PatchType type,
                     const Json& patch, std::string_view subresource = "") override;
  Result<Json> Delete(const Resource& r, std::string_view ns, std::string_view name,
                      const DeleteOptions& opts = {}) override;
  Result<std::unique_ptr<WatchStream>> Watch(const Resource& r, std::string_view ns,
                                             const ListOptions& opts) override;

  // Requests sent so far, by verb.
  std::map<std::string, long> RequestCounts() const;

  class Impl;

 private:
  explicit RestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpupool::kube
