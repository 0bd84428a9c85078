// FakeApiServer::Impl: the HTTP side. Parses requests (route, query, body), counts them, injects
// failures, checks the bearer token, and hands the rest to Storage; answers watches with a
// chunked StreamSink. A ticker thread drives bookmarks and watch timeouts.
#pragma once

#include <cpprest/http_listener.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "tests/support/fake_apiserver/fake_apiserver.h"
#include "tests/support/fake_apiserver/meta.h"
#include "tests/support/fake_apiserver/route.h"
#include "tests/support/fake_apiserver/storage.h"
#include "tests/support/fake_apiserver/tokens.h"

namespace gpupool::testing {

class FakeApiServer::Impl {
 public:
  Impl(const Options& options, int port);
  Status Listen();
  void Shutdown();

  int port() const { return port_; }
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
  void Handle(web::http::http_request request, std::string body);
  fake::Reply Serve(const web::http::http_request& request, const std::string& verb, const fake::Route& route,
                    const std::map<std::string, std::string>& query, const std::string& body);
  fake::Reply TokenReview(const Json& body);
  void ReplyWith(const web::http::http_request& request, const fake::Reply& reply);
  std::optional<fake::Reply> Intercept(const web::http::http_request& request, const std::string& verb);

  const int port_;
  fake::Storage storage_;
  fake::TokenAuthority tokens_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;

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

  // Work that outlives the call that started it. The listener's handlers and the watch responses'
  // completion handlers run on cpprestsdk's pool, which never stops: Shutdown waits for the handlers
  // (they use *this) before it closes the listener, and for the watch completions (each holds a
  // stream) so that none is pending when the process exits, where LeakSanitizer would report it.
  // Shared: a completion may run after *this is gone.
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    int count = 0;
    void Add();
    void Done();
    void WaitIdle(std::chrono::seconds bound);  // bounded: a response cpprestsdk never completes
  };                                            // cannot hang a test's teardown
  std::shared_ptr<Pending> handlers_ = std::make_shared<Pending>();
  std::shared_ptr<Pending> open_watches_ = std::make_shared<Pending>();
};

}  // namespace gpupool::testing
