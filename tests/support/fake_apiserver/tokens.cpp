#include "tests/support/fake_apiserver/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/kube/base64.h"
#include "tests/support/fake_apiserver/kinds.h"
#include "tests/support/fake_apiserver/meta.h"

namespace gpupool::testing::fake {
namespace {

constexpr std::int64_t kDefaultExpirationSeconds = 3600;
constexpr std::int64_t kMinExpirationSeconds = 600;  // ServiceAccountTokenProjection's minimum

const KindInfo& Kind(const char* plural) {
  return *FindKindByPlural(plural);
}

// The stored object, or null when it is gone.
Json Find(Storage& storage, const char* plural, const std::string& ns, const std::string& name) {
  Reply r = storage.Get(Kind(plural), ns, name);
  return r.ok() ? r.body : Json();
}

std::string Uid(const Json& obj) {
  return obj.is_object() ? Str(obj, "metadata", "uid") : "";
}

Json Rejected(const std::string& why) {
  return Json{{"authenticated", false}, {"error", "invalid bearer token, " + why}, {"user", Json::object()}};
}

}  // namespace

TokenAuthority::TokenAuthority() : key_(32, '\0') {
  RAND_bytes(reinterpret_cast<unsigned char*>(key_.data()), static_cast<int>(key_.size()));
}

std::int64_t TokenAuthority::Now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() +
         offset_s_.load();
}

std::string TokenAuthority::Sign(std::string_view data) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return kube::Base64Url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

Reply TokenAuthority::Request(Storage& storage, const std::string& ns, const std::string& service_account,
                              const Json& body) {
  const KindInfo& sa_kind = Kind("serviceaccounts");
  if (!body.is_object() || body.value("kind", "") != "TokenRequest") {
    return BadRequest("the request body is not an authentication.k8s.io/v1 TokenRequest");
  }
  const Json sa = Find(storage, "serviceaccounts", ns, service_account);
  if (sa.is_null()) return NotFound(sa_kind, service_account);
  Json spec = body.value("spec", Json::object());
  Json audiences = spec.value("audiences", Json::array());
  if (!audiences.is_array())
    return InvalidReply(sa_kind, service_account, "spec.audiences", "must be a list");
  if (audiences.empty()) audiences.push_back(kApiServerAudience);
  const Json& expiration = spec.contains("expirationSeconds") ? spec["expirationSeconds"] : Json();
  if (!expiration.is_null() && !expiration.is_number_integer()) {
    return InvalidReply(sa_kind, service_account, "spec.expirationSeconds", "must be an integer");
  }
  const std::int64_t seconds =
      expiration.is_null() ? kDefaultExpirationSeconds : expiration.get<std::int64_t>();
  if (seconds < kMinExpirationSeconds) {
    return InvalidReply(sa_kind, service_account, "spec.expirationSeconds",
                        "may not specify a duration less than 10 minutes");
  }
  Json claims_k8s = {{"namespace", ns}, {"serviceaccount", {{"name", service_account}, {"uid", Uid(sa)}}}};
  if (spec.contains("boundObjectRef") && !spec["boundObjectRef"].is_null()) {
    Json& ref = spec["boundObjectRef"];
    const std::string kind = ref.value("kind", "");
    const std::string name = ref.value("name", "");
    if (kind != "Pod") {
      return InvalidReply(sa_kind, service_account, "spec.boundObjectRef.kind",
                          "the fake API server binds tokens to Pods only, not \"" + kind + "\"");
    }
    const Json pod = Find(storage, "pods", ns, name);
    if (pod.is_null()) return NotFound(Kind("pods"), name);
    const std::string uid = ref.value("uid", "");
    if (!uid.empty() && uid != Uid(pod)) {
      return StatusReply(409, "Conflict",
                         "the UID in the bound object reference (" + uid +
                             ") does not match the UID in record (" + Uid(pod) +
                             "). The object might have been deleted and then recreated");
    }
    ref["uid"] = Uid(pod);
    ref["apiVersion"] = "v1";
    claims_k8s["pod"] = {{"name", name}, {"uid", Uid(pod)}};
  }
  const std::int64_t now = Now();
  const Json claims = {{"aud", audiences},
                       {"exp", now + seconds},
                       {"iat", now},
                       {"nbf", now},
                       {"iss", kApiServerAudience},
                       {"jti", NewUid()},
                       {"sub", "system:serviceaccount:" + ns + ":" + service_account},
                       {"kubernetes.io", claims_k8s}};
  const std::string signed_part =
      kube::Base64Url(Json{{"alg", "HS256"}, {"typ", "JWT"}}.dump()) + "." + kube::Base64Url(claims.dump());
  spec["audiences"] = audiences;
  spec["expirationSeconds"] = seconds;
  return Reply{
      201, Json{{"apiVersion", "authentication.k8s.io/v1"},
                {"kind", "TokenRequest"},
                {"metadata", {{"name", service_account}, {"namespace", ns}, {"creationTimestamp", nullptr}}},
                {"spec", spec},
                {"status",
                 {{"token", signed_part + "." + Sign(signed_part)},
                  {"expirationTimestamp", Rfc3339(now + seconds)}}}}};
}

Json TokenAuthority::Review(Storage& storage, const Json& spec) const {
  const std::string token = spec.value("token", "");
  const auto first = token.find('.');
  const auto last = token.rfind('.');
  if (first == std::string::npos || first == last) return Rejected("not a JWT");
  const std::string expected = Sign(std::string_view(token).substr(0, last));
  const std::string given = token.substr(last + 1);
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0) {
    return Rejected("square/go-jose: error in cryptographic primitive");
  }
  auto decoded = kube::Base64UrlDecode(std::string_view(token).substr(first + 1, last - first - 1));
  const Json claims = decoded.ok() ? Json::parse(*decoded, nullptr, false) : Json();
  if (!claims.is_object() || !claims.contains("kubernetes.io")) return Rejected("malformed claims");
  const std::int64_t now = Now();
  if (claims.value("exp", std::int64_t{0}) <= now) return Rejected("token is expired (exp)");
  if (claims.value("nbf", std::int64_t{0}) > now) return Rejected("token not valid yet (nbf)");

  Json wanted = spec.value("audiences", Json::array());
  if (!wanted.is_array() || wanted.empty()) wanted = Json::array({kApiServerAudience});
  Json granted = Json::array();
  for (const Json& a : wanted) {
    for (const Json& t : claims.value("aud", Json::array())) {
      if (a == t) granted.push_back(a);
    }
  }
  if (granted.empty()) {
    return Rejected("token audiences " + claims.value("aud", Json::array()).dump() +
                    " is invalid for the target audiences " + wanted.dump());
  }

  const Json& k8s = claims["kubernetes.io"];
  const std::string ns = k8s.value("namespace", "");
  const Json account = k8s.value("serviceaccount", Json::object());
  const std::string sa_name = account.value("name", "");
  const Json sa = Find(storage, "serviceaccounts", ns, sa_name);
  if (sa.is_null() || Uid(sa) != account.value("uid", "")) {
    return Rejected("service account " + ns + "/" + sa_name + " has been deleted");
  }
  Json extra = {
      {"authentication.kubernetes.io/credential-id", Json::array({"JTI=" + claims.value("jti", "")})}};
  if (k8s.contains("pod")) {
    const std::string pod_name = k8s["pod"].value("name", "");
    const std::string pod_uid = k8s["pod"].value("uid", "");
    const Json pod = Find(storage, "pods", ns, pod_name);
    if (pod.is_null() || Uid(pod) != pod_uid) {
      return Rejected("pod \"" + pod_name + "\" (" + pod_uid + ") is gone: the token has been invalidated");
    }
    extra["authentication.kubernetes.io/pod-name"] = Json::array({pod_name});
    extra["authentication.kubernetes.io/pod-uid"] = Json::array({pod_uid});
  }
  return Json{{"authenticated", true},
              {"user",
               {{"username", "system:serviceaccount:" + ns + ":" + sa_name},
                {"uid", Uid(sa)},
                {"groups", Json::array({"system:serviceaccounts", "system:serviceaccounts:" + ns,
                                        "system:authenticated"})},
                {"extra", extra}}},
              {"audiences", granted}};
}

}  // namespace gpupool::testing::fake
