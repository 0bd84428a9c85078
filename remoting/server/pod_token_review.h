// PodTokenReview: proves which pod a client runs in. The client sends its pod's projected
// service-account token (audience gpupool.io, written by the kubelet into the gpupool volume); the
// broker asks the Kubernetes API whether it is valid with a TokenReview (authentication.k8s.io/v1,
// spec.audiences [gpupool.io]) and learns the pod UID the token is bound to from
// status.user.extra["authentication.kubernetes.io/pod-uid"]. The API server, not gpupool, checks the
// signature, expiry and that the bound pod still exists.
//
// Positive answers are cached (key: SHA-256 of the token) for at most `cache_ttl` and never past the
// token's own exp claim, so a burst of sessions from one pod costs one API request; concurrent checks
// of the same token share one request. Rejections are not cached. Check() never waits past its
// deadline: an API server that is down or slow fails the check (fail closed), and the request still
// in flight ends by itself within the client's request timeout.
//
// Thread-safety: Check may be called from many threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/kube/client.h"
#include "common/status.h"

namespace gpupool::server {

// Who a token belongs to, as the TokenReview says.
struct PodIdentity {
  std::string pod_uid;
  std::string pod_name;
  std::string pod_namespace;    // of the service account: system:serviceaccount:NS:SA
  std::string service_account;  // SA
};

struct PodTokenReviewOptions {
  std::string audience = "gpupool.io";
  std::chrono::milliseconds cache_ttl{std::chrono::seconds(30)};  // 0: no cache
  std::size_t cache_entries = 1024;
};

// How to reach the Kubernetes API: in-cluster (service account of the pod) when `server` is empty,
// else that URL with an optional CA bundle file and bearer token file (re-read as it rotates).
struct KubeApiFlags {
  std::string server;
  std::string ca_file;
  std::string token_file;
};

class PodTokenReview {
 public:
  static std::shared_ptr<PodTokenReview> Create(std::shared_ptr<kube::Client> client,
                                                PodTokenReviewOptions options = {});
  // A REST client for `api` (request timeout: the handshake deadline; no retries, as the handshake
  // cannot wait for them).
  static Result<std::shared_ptr<PodTokenReview>> Connect(const KubeApiFlags& api,
                                                         PodTokenReviewOptions options);

  // Unauthenticated (with the reason) when the API says the token is not valid for the audience or
  // not bound to a pod; Unavailable when the API could not be asked or did not answer by `deadline`.
  Result<PodIdentity> Check(const std::string& token, std::chrono::steady_clock::time_point deadline);

  struct State;

 private:
  explicit PodTokenReview(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;  // shared with reviews still in flight
};

// Reads a TokenReview answer (pure). Unauthenticated unless status.authenticated, `audience` among
// status.audiences, a service-account user and exactly one pod UID in user.extra.
Result<PodIdentity> IdentityFromReview(const nlohmann::json& review, std::string_view audience);
// The exp claim (Unix seconds) of a JWT, read without checking the signature (only to bound how long
// an answer about it is cached); nullopt when the token is not a JWT with a numeric exp.
std::optional<std::int64_t> JwtExpiry(std::string_view token);

}  // namespace gpupool::server
