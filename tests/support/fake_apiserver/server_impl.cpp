#include "tests/support/fake_apiserver/server_impl.h"

#include "tests/support/fake_apiserver/discovery.h"
#include "tests/support/fake_apiserver/route.h"
#include "tests/support/fake_apiserver/stream_sink.h"

namespace gpupool::testing {

using web::http::http_request;
using web::http::http_response;
using web::http::methods;
namespace fk = fake;

FakeApiServer::Impl::Impl(const Options& options, int port)
    : port_(port), storage_(options.bookmark_interval, options.default_watch_timeout_seconds) {}

Status FakeApiServer::Impl::Listen() {
  try {
    listener_ = std::make_unique<web::http::experimental::listener::http_listener>(
        "http://127.0.0.1:" + std::to_string(port_) + "/");
    listener_->support([this](http_request req) {
      handlers_->Add();
      req.extract_string(true).then([this, req, pending = handlers_](pplx::task<std::string> body) {
        struct Finished {  // last: nothing of *this is used after Done()
          Pending& pending;
          ~Finished() { pending.Done(); }
        } finished{*pending};
        std::string text;
        try {
          text = body.get();
        } catch (const std::exception&) {
          req.reply(400).then([](pplx::task<void> t) {
            try {
              t.get();
            } catch (...) {
            }
          });
          return;
        }
        try {
          Handle(req, std::move(text));
        } catch (const std::exception& e) {  // malformed input the checks missed: an answer, not a crash
          ReplyWith(req, fk::StatusReply(500, "InternalError", e.what()));
        }
      });
    });
    listener_->open().wait();
  } catch (const std::exception& e) {
    listener_.reset();
    return Status::Unavailable(e.what());
  }
  ticker_ = std::thread([this] {
    std::unique_lock lock(tick_mu_);
    while (!stopping_) {
      tick_cv_.wait_for(lock, std::chrono::milliseconds(20));
      storage_.Tick();
    }
  });
  return Status::Ok();
}

void FakeApiServer::Impl::Pending::Add() {
  std::lock_guard lock(mu);
  ++count;
}

void FakeApiServer::Impl::Pending::Done() {
  std::lock_guard lock(mu);
  --count;
  cv.notify_all();
}

void FakeApiServer::Impl::Pending::WaitIdle(std::chrono::seconds bound) {
  std::unique_lock lock(mu);
  cv.wait_for(lock, bound, [this] { return count == 0; });
}

void FakeApiServer::Impl::Shutdown() {
  {
    std::lock_guard lock(tick_mu_);
    stopping_ = true;  // cuts delayed requests short
  }
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  storage_.CloseWatches();  // before close(): the listener waits for every open response
  // A handler still running (a delayed request just woken) uses *this: it must end before *this does.
  handlers_->WaitIdle(std::chrono::seconds(10));
  if (listener_) {
    try {
      listener_->close().wait();
    } catch (const std::exception&) {
    }
  }
  open_watches_->WaitIdle(std::chrono::seconds(10));
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

std::optional<fk::Reply> FakeApiServer::Impl::Intercept(const http_request& request,
                                                        const std::string& verb) {
  std::lock_guard lock(mu_);
  ++counts_[verb];
  if (token_) {
    std::string auth;
    request.headers().match("Authorization", auth);
    if (auth != "Bearer " + *token_) return fk::StatusReply(401, "Unauthorized", "Unauthorized");
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

void FakeApiServer::Impl::ReplyWith(const http_request& request, const fk::Reply& reply) {
  http_response resp(static_cast<web::http::status_code>(reply.code));
  resp.set_body(reply.body.dump(), "application/json");
  if (reply.retry_after_s > 0) resp.headers().add("Retry-After", std::to_string(reply.retry_after_s));
  request.reply(resp).then([](pplx::task<void> t) {
    try {
      t.get();
    } catch (...) {  // the client went away; nothing to tell
    }
  });
}

void FakeApiServer::Impl::Handle(http_request request, std::string body) {
  std::string path = web::uri::decode(request.relative_uri().path());
  std::map<std::string, std::string> query;
  for (const auto& [k, v] : web::uri::split_query(request.relative_uri().query())) {
    std::string value = v;
    for (char& c : value) {
      if (c == '+') c = ' ';
    }
    query[web::uri::decode(k)] = web::uri::decode(value);
  }
  const std::string& m = request.method();
  fk::Route route = fk::ParseRoute(path);
  std::string watch = query.count("watch") ? query["watch"] : "";
  bool is_watch = watch == "1" || watch == "true" || watch == "True";
  std::string verb = "discovery";
  if (route.kind != nullptr) {
    if (m == methods::GET) {
      verb = !route.name.empty() ? "get" : is_watch ? "watch" : "list";
    } else if (m == methods::POST) {
      verb = "create";
    } else if (m == methods::PUT) {
      verb = "update";
    } else if (m == methods::PATCH) {
      verb = "patch";
    } else if (m == methods::DEL) {
      verb = "delete";
    }
  }
  if (auto failed = Intercept(request, verb)) return ReplyWith(request, *failed);
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(mu_);
    if (delay_verb_.empty() || delay_verb_ == verb) delay = delay_;
  }
  if (delay.count() > 0) {  // a slow API server; shutdown cuts the wait short
    std::unique_lock lock(tick_mu_);
    if (tick_cv_.wait_for(lock, delay, [this] { return stopping_; })) {
      lock.unlock();
      return ReplyWith(request,
                       fk::StatusReply(503, "ServiceUnavailable", "the API server is shutting down"));
    }
  }

  if (route.kind == nullptr) {
    auto doc = fk::Discovery(path, "127.0.0.1:" + std::to_string(port_));
    if (doc && m == methods::GET) return ReplyWith(request, fk::Reply{200, *doc});
    return ReplyWith(request,
                     fk::StatusReply(404, "NotFound", "the server could not find the requested resource"));
  }
  if (!route.error.empty()) return ReplyWith(request, fk::StatusReply(404, "NotFound", route.error));

  if (verb == "watch") {
    auto labels = fk::LabelSelector::Parse(query["labelSelector"]);
    auto fields = fk::FieldSelector::Parse(query["fieldSelector"], *route.kind);
    if (!labels.ok()) return ReplyWith(request, fk::BadRequest(labels.status().message()));
    if (!fields.ok()) return ReplyWith(request, fk::BadRequest(fields.status().message()));
    fk::WatchQuery q;
    q.resource_version = query["resourceVersion"];
    q.resource_version_match = query["resourceVersionMatch"];
    q.allow_bookmarks = query["allowWatchBookmarks"] == "true" || query["allowWatchBookmarks"] == "True";
    q.send_initial_events = query["sendInitialEvents"] == "true" || query["sendInitialEvents"] == "True";
    try {
      q.timeout_seconds = query["timeoutSeconds"].empty() ? 0 : std::stoi(query["timeoutSeconds"]);
    } catch (...) {
      return ReplyWith(request, fk::BadRequest("invalid timeoutSeconds"));
    }
    auto sink = std::make_shared<fk::StreamSink>();
    http_response resp(200);
    resp.set_body(sink->Body(), "application/json");
    fk::Filter filter{route.ns, std::move(*labels), std::move(*fields)};
    fk::Reply r = storage_.Watch(*route.kind, filter, q, sink);
    if (!r.ok()) return ReplyWith(request, r);
    open_watches_->Add();
    request.reply(resp).then([sink, open = open_watches_](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
      open->Done();
    });
    return;
  }
  ReplyWith(request, Serve(request, verb, route, query, body));
}

}  // namespace gpupool::testing
