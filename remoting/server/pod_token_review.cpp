#include "remoting/server/pod_token_review.h"

#include <openssl/sha.h>

#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "common/kube/base64.h"
#include "common/kube/config.h"
#include "common/kube/resource.h"
#include "common/kube/rest_client.h"
#include "common/log.h"
#include "common/read_file.h"
#include "remoting/protocol/frame.h"

namespace gpupool::server {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

constexpr std::string_view kPodUidKey = "authentication.kubernetes.io/pod-uid";
constexpr std::string_view kPodNameKey = "authentication.kubernetes.io/pod-name";
constexpr std::string_view kServiceAccountPrefix = "system:serviceaccount:";

std::string Digest(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// The single value of user.extra[key], or "" when it is absent or not one string.
std::string ExtraValue(const Json& user, std::string_view key) {
  if (!user.contains("extra") || !user["extra"].is_object()) return "";
  auto it = user["extra"].find(std::string(key));
  if (it == user["extra"].end() || !it->is_array() || it->size() != 1 || !(*it)[0].is_string()) return "";
  return (*it)[0].get<std::string>();
}

}  // namespace

struct PodTokenReview::State {
  using Answer = Result<PodIdentity>;
  struct Cached {
    PodIdentity identity;
    Clock::time_point expires;
  };

  std::shared_ptr<kube::Client> client;
  PodTokenReviewOptions options;
  std::mutex mu;
  std::map<std::string, Cached> cache;                          // by token digest
  std::map<std::string, std::shared_future<Answer>> in_flight;  // by token digest

  Answer Review(const std::string& token) const {
    const Json request = {{"apiVersion", "authentication.k8s.io/v1"},
                          {"kind", "TokenReview"},
                          {"spec", {{"token", token}, {"audiences", Json::array({options.audience})}}}};
    auto answer = client->Create(kube::TokenReviews(), "", request);
    if (!answer.ok()) {
      return Status::Unavailable("the pod token could not be checked: TokenReview failed: " +
                                 answer.status().message());
    }
    return IdentityFromReview(*answer, options.audience);
  }

  // Remembers a positive answer until min(now + cache_ttl, the token's exp); a token without a
  // readable exp is not cached.
  void RememberLocked(const std::string& key, const std::string& token, const PodIdentity& identity) {
    if (options.cache_ttl.count() <= 0 || options.cache_entries == 0) return;
    auto exp = JwtExpiry(token);
    if (!exp) return;
    const auto left = std::chrono::seconds(*exp) - std::chrono::system_clock::now().time_since_epoch();
    const auto ttl = std::min<Clock::duration>(options.cache_ttl, left);
    if (ttl <= Clock::duration::zero()) return;
    const auto now = Clock::now();
    if (cache.size() >= options.cache_entries) {
      std::erase_if(cache, [now](const auto& entry) { return entry.second.expires <= now; });
    }
    if (cache.size() >= options.cache_entries) {
      auto soonest = std::min_element(cache.begin(), cache.end(), [](const auto& a, const auto& b) {
        return a.second.expires < b.second.expires;
      });
      cache.erase(soonest);
    }
    cache[key] = Cached{identity, now + ttl};
  }
};

std::shared_ptr<PodTokenReview> PodTokenReview::Create(std::shared_ptr<kube::Client> client,
                                                       PodTokenReviewOptions options) {
  auto state = std::make_shared<State>();
  state->client = std::move(client);
  state->options = std::move(options);
  return std::shared_ptr<PodTokenReview>(new PodTokenReview(std::move(state)));
}

Result<std::shared_ptr<PodTokenReview>> PodTokenReview::Connect(const KubeApiFlags& api,
                                                                PodTokenReviewOptions options) {
  kube::ClusterConfig config;
  if (api.server.empty()) {
    auto in_cluster = kube::InClusterConfig();
    if (!in_cluster.ok()) {
      return in_cluster.status().Annotate(
          "--pod-token-review needs the Kubernetes API (in-cluster service account, or --kube-api-server)");
    }
    config = std::move(*in_cluster);
  } else {
    config.server = api.server;
    if (!api.ca_file.empty()) {
      GPUPOOL_ASSIGN_OR_RETURN(config.ca_pem, ReadTextFile(api.ca_file));
    }
    if (!api.token_file.empty()) {
      GPUPOOL_RETURN_IF_ERROR(ReadTextFile(api.token_file).status().Annotate("--kube-api-token-file"));
      config.token = kube::TokenSource::FromFile(api.token_file);
    }
  }
  kube::RestOptions rest;
  rest.request_timeout = std::chrono::milliseconds(protocol::kHandshakeTimeoutMs);
  rest.max_retries = 0;
  rest.user_agent = "gpupool-server";
  GPUPOOL_ASSIGN_OR_RETURN(std::unique_ptr<kube::RestClient> client,
                           kube::RestClient::Create(std::move(config), rest));
  return Create(std::shared_ptr<kube::Client>(std::move(client)), std::move(options));
}

Result<PodIdentity> PodTokenReview::Check(const std::string& token, Clock::time_point deadline) {
  const std::string key = Digest(token);
  std::shared_future<State::Answer> pending;
  {
    std::lock_guard lock(state_->mu);
    if (auto hit = state_->cache.find(key); hit != state_->cache.end()) {
      if (hit->second.expires > Clock::now()) return hit->second.identity;
      state_->cache.erase(hit);
    }
    if (auto running = state_->in_flight.find(key); running != state_->in_flight.end()) {
      pending = running->second;
    } else {
      auto promise = std::make_shared<std::promise<State::Answer>>();
      pending = promise->get_future().share();
      state_->in_flight.emplace(key, pending);
      // Detached: a handshake that gives up at its deadline must not wait for the request, which
      // ends within the client's request timeout anyway.
      std::thread([state = state_, key, token, promise] {
        State::Answer answer = state->Review(token);
        {
          std::lock_guard done(state->mu);
          if (answer.ok()) state->RememberLocked(key, token, *answer);
          state->in_flight.erase(key);
        }
        promise->set_value(std::move(answer));
      }).detach();
    }
  }
  if (pending.wait_until(deadline) != std::future_status::ready) {
    return Status::Unavailable(
        "the pod token could not be checked: the Kubernetes API did not answer the TokenReview before the "
        "handshake deadline");
  }
  return pending.get();
}

Result<PodIdentity> IdentityFromReview(const Json& review, std::string_view audience) {
  if (!review.is_object() || !review.contains("status") || !review["status"].is_object()) {
    return Status::Unauthenticated("the TokenReview answer has no status");
  }
  const Json& status = review["status"];
  if (!status.contains("authenticated") || status["authenticated"] != true) {
    std::string why = status.contains("error") && status["error"].is_string()
                          ? status["error"].get<std::string>()
                          : std::string("not authenticated");
    return Status::Unauthenticated("the Kubernetes API rejected the pod token: " + why);
  }
  bool for_us = false;
  if (status.contains("audiences") && status["audiences"].is_array()) {
    for (const Json& a : status["audiences"]) for_us |= a.is_string() && a.get<std::string>() == audience;
  }
  if (!for_us) {
    return Status::Unauthenticated("the pod token is not valid for audience " + std::string(audience));
  }
  const Json user = status.value("user", Json::object());
  const std::string username = user.is_object() ? user.value("username", "") : "";
  if (username.rfind(kServiceAccountPrefix, 0) != 0) {
    return Status::Unauthenticated("the token is not a service account's (user \"" + username + "\")");
  }
  PodIdentity id;
  const std::string account = username.substr(kServiceAccountPrefix.size());
  const auto colon = account.find(':');
  if (colon == std::string::npos)
    return Status::Unauthenticated("malformed service-account user " + username);
  id.pod_namespace = account.substr(0, colon);
  id.service_account = account.substr(colon + 1);
  id.pod_uid = ExtraValue(user, kPodUidKey);
  id.pod_name = ExtraValue(user, kPodNameKey);
  if (id.pod_uid.empty()) {
    return Status::Unauthenticated("the token of " + username +
                                   " is not bound to a pod (use the pod's projected service-account token)");
  }
  return id;
}

std::optional<std::int64_t> JwtExpiry(std::string_view token) {
  const auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto claims = kube::Base64UrlDecode(token.substr(first + 1, second - first - 1));
  if (!claims.ok()) return std::nullopt;
  const Json parsed = Json::parse(*claims, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("exp") || !parsed["exp"].is_number_integer())
    return std::nullopt;
  return parsed["exp"].get<std::int64_t>();
}

}  // namespace gpupool::server
