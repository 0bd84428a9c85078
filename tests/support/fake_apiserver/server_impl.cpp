#include "tests/support/fake_apiserver/server_impl.h"

#include <cpprest/uri.h>

#include "tests/support/fake_apiserver/discovery.h"
#include "tests/support/fake_apiserver/route.h"
#include "tests/support/fake_apiserver/stream_sink.h"

namespace gpupool::testing {

namespace fk = fake;

namespace {

// Enough handler threads that requests held back by DelayRequests do not stall the others.
constexpr int kServerThreads = 8;

http::Response ToResponse(const fk::Reply& reply) {
  http::Response response(reply.code, "application/json", reply.body.dump());
  if (reply.retry_after_s > 0) response.headers["Retry-After"] = std::to_string(reply.retry_after_s);
  return response;
}

std::string DecodeQueryPart(std::string text) {
  for (char& c : text) {
    if (c == '+') c = ' ';
  }
  return web::uri::decode(text);
}

}  // namespace

std::string Header(const http::Request& request, const std::string& name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? std::string() : it->second;
}

FakeApiServer::Impl::Impl(const Options& options)
    : storage_(options.bookmark_interval, options.default_watch_timeout_seconds) {}

Status FakeApiServer::Impl::Listen() {
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = kServerThreads;
  auto server = http::HttpServer::Start(options, [this](const http::Request& request) {
    try {
      return Handle(request);
    } catch (const std::exception& e) {  // malformed input the checks missed: an answer, not a crash
      return ToResponse(fk::StatusReply(500, "InternalError", e.what()));
    }
  });
  if (!server.ok()) return server.status();
  server_ = std::move(*server);
  ticker_ = std::thread([this] {
    std::unique_lock lock(tick_mu_);
    while (!stopping_) {
      tick_cv_.wait_for(lock, std::chrono::milliseconds(20));
      storage_.Tick();
    }
  });
  return Status::Ok();
}

void FakeApiServer::Impl::Shutdown() {
  {
    std::lock_guard lock(tick_mu_);
    stopping_ = true;  // cuts delayed requests short
  }
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  storage_.CloseWatches();
  // Returns when no handler runs: a delayed request, woken above, has answered or been cut off.
  if (server_) server_->Stop();
}

Result<const fk::KindInfo*> FakeApiServer::Impl::Kind(const std::string& plural) const {
  const fk::KindInfo* k = fk::FindKindByPlural(plural);
  if (k == nullptr) return Status::InvalidArgument("the fake API server has no resource \"" + plural + "\"");
  return k;
}

void FakeApiServer::Impl::FailNext(int n, int http_code, const std::string& verb, int retry_after_s) {
  std::lock_guard lock(mu_);
  fail_left_ = n;
  fail_code_ = http_code;
  fail_verb_ = verb;
  fail_retry_after_ = retry_after_s;
}

void FakeApiServer::Impl::Delay(std::chrono::milliseconds delay, const std::string& verb) {
  std::lock_guard lock(mu_);
  delay_ = delay;
  delay_verb_ = verb;
}

void FakeApiServer::Impl::RequireToken(std::optional<std::string> token) {
  std::lock_guard lock(mu_);
  token_ = std::move(token);
}

std::string FakeApiServer::Impl::RequiredToken() const {
  std::lock_guard lock(mu_);
  return token_.value_or("");
}

std::map<std::string, long> FakeApiServer::Impl::Counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void FakeApiServer::Impl::ResetCounts() {
  std::lock_guard lock(mu_);
  counts_.clear();
}

std::optional<fk::Reply> FakeApiServer::Impl::Intercept(const http::Request& request,
                                                        const std::string& verb) {
  std::lock_guard lock(mu_);
  ++counts_[verb];
  if (token_ && Header(request, "authorization") != "Bearer " + *token_) {
    return fk::StatusReply(401, "Unauthorized", "Unauthorized");
  }
  if (fail_left_ > 0 && (fail_verb_.empty() || fail_verb_ == verb)) {
    --fail_left_;
    std::string reason = fail_code_ == 429   ? "TooManyRequests"
                         : fail_code_ == 503 ? "ServiceUnavailable"
                         : fail_code_ == 504 ? "Timeout"
                         : fail_code_ == 500 ? "InternalError"
                                             : "";
    fk::Reply r =
        fk::StatusReply(fail_code_, reason, "injected failure (" + std::to_string(fail_code_) + ")");
    r.retry_after_s = fail_retry_after_;
    if (fail_retry_after_ > 0) r.body["details"] = {{"retryAfterSeconds", fail_retry_after_}};
    return r;
  }
  return std::nullopt;
}

http::Response FakeApiServer::Impl::Handle(const http::Request& request) {
  const std::string& path = request.path;
  std::map<std::string, std::string> query;
  for (const auto& [k, v] : web::uri::split_query(request.query))
    query[DecodeQueryPart(k)] = DecodeQueryPart(v);
  const std::string& m = request.method;
  fk::Route route = fk::ParseRoute(path);
  std::string watch = query.count("watch") ? query["watch"] : "";
  bool is_watch = watch == "1" || watch == "true" || watch == "True";
  std::string verb = "discovery";
  if (route.kind != nullptr) {
    if (m == "GET") {
      verb = !route.name.empty() ? "get" : is_watch ? "watch" : "list";
    } else if (m == "POST") {
      verb = "create";
    } else if (m == "PUT") {
      verb = "update";
    } else if (m == "PATCH") {
      verb = "patch";
    } else if (m == "DELETE") {
      verb = "delete";
    }
  }
  if (auto failed = Intercept(request, verb)) return ToResponse(*failed);
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(mu_);
    if (delay_verb_.empty() || delay_verb_ == verb) delay = delay_;
  }
  if (delay.count() > 0) {  // a slow API server; shutdown cuts the wait short
    std::unique_lock lock(tick_mu_);
    if (tick_cv_.wait_for(lock, delay, [this] { return stopping_; })) {
      lock.unlock();
      return ToResponse(fk::StatusReply(503, "ServiceUnavailable", "the API server is shutting down"));
    }
  }

  if (route.kind == nullptr) {
    auto doc = fk::Discovery(path, "127.0.0.1:" + std::to_string(port()));
    if (doc && m == "GET") return ToResponse(fk::Reply{200, *doc});
    return ToResponse(fk::StatusReply(404, "NotFound", "the server could not find the requested resource"));
  }
  if (!route.error.empty()) return ToResponse(fk::StatusReply(404, "NotFound", route.error));

  if (verb == "watch") {
    auto labels = fk::LabelSelector::Parse(query["labelSelector"]);
    auto fields = fk::FieldSelector::Parse(query["fieldSelector"], *route.kind);
    if (!labels.ok()) return ToResponse(fk::BadRequest(labels.status().message()));
    if (!fields.ok()) return ToResponse(fk::BadRequest(fields.status().message()));
    fk::WatchQuery q;
    q.resource_version = query["resourceVersion"];
    q.resource_version_match = query["resourceVersionMatch"];
    q.allow_bookmarks = query["allowWatchBookmarks"] == "true" || query["allowWatchBookmarks"] == "True";
    q.send_initial_events = query["sendInitialEvents"] == "true" || query["sendInitialEvents"] == "True";
    try {
      q.timeout_seconds = query["timeoutSeconds"].empty() ? 0 : std::stoi(query["timeoutSeconds"]);
    } catch (...) {
      return ToResponse(fk::BadRequest("invalid timeoutSeconds"));
    }
    auto body = std::make_shared<http::BodyStream>();
    fk::Filter filter{route.ns, std::move(*labels), std::move(*fields)};
    fk::Reply r = storage_.Watch(*route.kind, filter, q, std::make_shared<fk::StreamSink>(body));
    if (!r.ok()) return ToResponse(r);
    http::Response response(200, "application/json", "");
    response.stream = std::move(body);
    return response;
  }
  return ToResponse(Serve(request, verb, route, query, request.body));
}

}  // namespace gpupool::testing
