// FakeApiServer::Impl: the HTTP side. Parses requests (route, query, body), counts them, injects
// failures, checks the bearer token, and hands the rest to Storage; answers watches with a
// StreamSink (a streamed HTTP body). A ticker thread drives bookmarks and watch timeouts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "operator/http/server.h"
#include "tests/support/fake_apiserver/fake_apiserver.h"
#include "tests/support/fake_apiserver/meta.h"
#include "tests/support/fake_apiserver/route.h"
#include "tests/support/fake_apiserver/storage.h"
#include "tests/support/fake_apiserver/tokens.h"

namespace gpupool::testing {

// A request header's value ("" when absent); `name` in lower case.
std::string Header(const http::Request& request, const std::string& name);

class FakeApiServer::Impl {
 public:
  explicit Impl(const Options& options);
  Status Listen();
  void Shutdown();

  int port() const { return server_ ? server_->port() : 0; }
  fake::Storage& storage() { return storage_; }
  Result<const fake::KindInfo*> Kind(const std::string& plural) const;

  void FailNext(int n, int http_code, const std::string& verb, int retry_after_s);
  fake::TokenAuthority& tokens() { return tokens_; }
  void Delay(std::chrono::milliseconds delay, const std::string& verb);
  void RequireToken(std::optional<std::string> token);
  std::string RequiredToken() const;
  std::map<std::string, long> Counts() const;
  void ResetCounts();

 private:
  http::Response Handle(const http::Request& request);
  fake::Reply Serve(const http::Request& request, const std::string& verb, const fake::Route& route,
                    const std::map<std::string, std::string>& query, const std::string& body);
  fake::Reply TokenReview(const Json& body);
  std::optional<fake::Reply> Intercept(const http::Request& request, const std::string& verb);

  fake::Storage storage_;
  fake::TokenAuthority tokens_;
  std::unique_ptr<http::HttpServer> server_;

  mutable std::mutex mu_;
  std::map<std::string, long> counts_;
  int fail_left_ = 0, fail_code_ = 0, fail_retry_after_ = 0;
  std::string fail_verb_;
  std::chrono::milliseconds delay_{0};
  std::string delay_verb_;
  std::optional<std::string> token_;

  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool stopping_ = false;
  std::thread ticker_;
};

}  // namespace gpupool::testing
