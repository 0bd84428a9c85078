#include "common/kube/rest_client.h"

#include <cpprest/uri.h>

#include <mutex>
#include <thread>

#include "common/kube/errors.h"
#include "common/kube/http_session.h"
#include "common/kube/watch_stream.h"

namespace gpupool::kube {

using web::http::methods;

namespace {

std::string Enc(const std::string& s) {
  return web::uri::encode_data_string(s);
}

std::string Query(const ListOptions& o, bool watch) {
  std::string q;
  auto add = [&q](const std::string& k, const std::string& v) {
    q += (q.empty() ? "?" : "&") + k + "=" + Enc(v);
  };
  if (watch) add("watch", "1");
  if (!o.label_selector.empty()) add("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) add("fieldSelector", o.field_selector);
  if (!o.resource_version.empty()) add("resourceVersion", o.resource_version);
  if (!o.resource_version_match.empty()) add("resourceVersionMatch", o.resource_version_match);
  if (o.limit > 0) add("limit", std::to_string(o.limit));
  if (!o.continue_token.empty()) add("continue", o.continue_token);
  if (o.timeout_seconds > 0) add("timeoutSeconds", std::to_string(o.timeout_seconds));
  if (watch && o.allow_watch_bookmarks) add("allowWatchBookmarks", "true");
  return q;
}

const char* ContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

}  // namespace

class RestClient::Impl {
 public:
  Impl(ClusterConfig config, RestOptions options, std::unique_ptr<HttpSession> session)
      : config_(std::move(config)), options_(std::move(options)), session_(std::move(session)) {}

  // One API call: the verb is counted, 401 re-reads the token once, Retry-After answers are retried.
  Result<Json> Call(const std::string& verb, const web::http::method& method, const std::string& path,
                    const std::string& body = "", const std::string& content_type = "") {
    bool reauthed = false;
    for (int attempt = 0;; ++attempt) {
      {
        std::lock_guard lock(mu_);
        ++counts_[verb];
      }
      GPUPOOL_ASSIGN_OR_RETURN(auto req, session_->NewRequest(method, path, body, content_type));
      GPUPOOL_ASSIGN_OR_RETURN(HttpReply reply, session_->Send(std::move(req)));
      if (reply.code >= 200 && reply.code < 300) {
        if (reply.body.empty()) return Json::object();
        Json j = Json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) return Status::Internal(verb + " " + path + ": the answer is not JSON");
        return j;
      }
      if (reply.code == 401 && session_->token() && !reauthed) {
        reauthed = true;  // the token may have rotated since it was cached
        session_->token()->Invalidate();
        continue;
      }
      bool retryable = reply.code == 429 || reply.code >= 500;
      if (retryable && reply.retry_after_s > 0 && attempt < options_.max_retries) {
        auto wait = std::min<std::chrono::milliseconds>(std::chrono::seconds(reply.retry_after_s),
                                                        options_.max_retry_after);
        std::this_thread::sleep_for(wait);
        continue;
      }
      return StatusFromHttp(reply.code, reply.body, reply.retry_after_s).Annotate(verb + " " + path);
    }
  }

  Result<std::unique_ptr<WatchStream>> Watch(const std::string& path) {
    {
      std::lock_guard lock(mu_);
      ++counts_["watch"];
    }
    GPUPOOL_ASSIGN_OR_RETURN(auto session,
                             HttpSession::Create(config_, options_.watch_idle_timeout, options_.user_agent));
    return OpenWatch(std::move(session), path);
  }

  std::map<std::string, long> Counts() const {
    std::lock_guard lock(mu_);
    return counts_;
  }

 private:
  const ClusterConfig config_;
  const RestOptions options_;
  std::unique_ptr<HttpSession> session_;
  mutable std::mutex mu_;
  std::map<std::string, long> counts_;
};

Result<std::unique_ptr<RestClient>> RestClient::Create(ClusterConfig config, RestOptions options) {
  GPUPOOL_ASSIGN_OR_RETURN(auto session,
                           HttpSession::Create(config, options.request_timeout, options.user_agent));
  auto impl = std::make_unique<Impl>(std::move(config), std::move(options), std::move(session));
  return std::unique_ptr<RestClient>(new RestClient(std::move(impl)));
}

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

Result<Json> RestClient::Get(const Resource& r, std::string_view ns, std::string_view name) {
  return impl_->Call("get", methods::GET, r.ObjectPath(ns, name));
}

Result<Json> RestClient::List(const Resource& r, std::string_view ns, const ListOptions& opts) {
  return impl_->Call("list", methods::GET, r.CollectionPath(ns) + Query(opts, false));
}

Result<Json> RestClient::Create(const Resource& r, std::string_view ns, const Json& obj) {
  return impl_->Call("create", methods::POST, r.CollectionPath(ns), obj.dump(), "application/json");
}

Result<Json> RestClient::Update(const Resource& r, const Json& obj) {
  return impl_->Call("update", methods::PUT, r.ObjectPath(NamespaceOf(obj), NameOf(obj)), obj.dump(),
                     "application/json");
}

Result<Json> RestClient::UpdateStatus(const Resource& r, const Json& obj) {
  return impl_->Call("update", methods::PUT, r.ObjectPath(NamespaceOf(obj), NameOf(obj), "status"),
                     obj.dump(), "application/json");
}

Result<Json> RestClient::Patch(const Resource& r, std::string_view ns, std::string_view name, PatchType type,
                               const Json& patch, std::string_view subresource) {
  return impl_->Call("patch", methods::PATCH, r.ObjectPath(ns, name, subresource), patch.dump(),
                     ContentType(type));
}

Result<Json> RestClient::Delete(const Resource& r, std::string_view ns, std::string_view name,
                                const DeleteOptions& opts) {
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (opts.precondition_resource_version)
    body["preconditions"]["resourceVersion"] = *opts.precondition_resource_version;
  if (opts.precondition_uid) body["preconditions"]["uid"] = *opts.precondition_uid;
  if (opts.grace_period_seconds) body["gracePeriodSeconds"] = *opts.grace_period_seconds;
  if (!opts.propagation_policy.empty()) body["propagationPolicy"] = opts.propagation_policy;
  return impl_->Call("delete", methods::DEL, r.ObjectPath(ns, name), body.dump(), "application/json");
}

Result<std::unique_ptr<WatchStream>> RestClient::Watch(const Resource& r, std::string_view ns,
                                                       const ListOptions& opts) {
  return impl_->Watch(r.CollectionPath(ns) + Query(opts, true));
}

std::map<std::string, long> RestClient::RequestCounts() const {
  return impl_->Counts();
}

}  // namespace gpupool::kube
