// Service-account tokens as an API server issues and checks them (k8s-api-facts §8.3, §8.4).
//
// TokenRequest (POST /api/v1/namespaces/NS/serviceaccounts/SA/token) mints a JWT signed with this
// server's random key (HMAC-SHA256), with the real claims (iss, sub, aud, exp, iat, nbf, jti and
// kubernetes.io {namespace, serviceaccount, pod}), bound to a pod when spec.boundObjectRef names one.
// TokenReview checks the signature, nbf/exp against the server's clock, the audiences (spec.audiences,
// or the API server's own when absent), and that the service account and the bound pod still exist
// with the UIDs in the token; it answers with the user a real cluster reports (username
// system:serviceaccount:NS:SA, groups, extra pod-name / pod-uid / credential-id).
//
// Thread-safety: all methods may be called concurrently (the storage has its own lock).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/support/fake_apiserver/storage.h"

namespace gpupool::testing::fake {

inline constexpr std::string_view kApiServerAudience = "https://kubernetes.default.svc.cluster.local";

class TokenAuthority {
 public:
  TokenAuthority();

  Reply Request(Storage& storage, const std::string& ns, const std::string& service_account,
                const Json& body);
  // The TokenReview answer's status object for `spec` ({token, audiences}).
  Json Review(Storage& storage, const Json& spec) const;
  // Moves the clock tokens are issued and checked against (tests of expiry).
  void Advance(std::chrono::seconds by) { offset_s_ += by.count(); }

 private:
  std::int64_t Now() const;
  std::string Sign(std::string_view data) const;

  std::string key_;
  std::atomic<std::int64_t> offset_s_{0};
};

}  // namespace gpupool::testing::fake
