#include "common/kube/errors.h"

#include <cstdio>

namespace gpupool::kube {
namespace {

constexpr std::string_view kMarker = " [HTTP ";

Code CodeFor(int http, const std::string& reason) {
  if (reason == "NotFound") return Code::kNotFound;
  if (reason == "AlreadyExists") return Code::kAlreadyExists;
  if (reason == "Conflict") return Code::kConflict;
  if (reason == "Expired" || reason == "Gone") return Code::kFailedPrecondition;
  if (reason == "Forbidden") return Code::kPermissionDenied;
  if (reason == "Unauthorized") return Code::kUnauthenticated;
  if (reason == "Invalid" || reason == "BadRequest" || reason == "RequestEntityTooLarge") {
    return Code::kInvalidArgument;
  }
  if (reason == "MethodNotAllowed" || reason == "NotAcceptable" || reason == "UnsupportedMediaType") {
    return Code::kUnimplemented;
  }
  if (reason == "TooManyRequests") return Code::kResourceExhausted;
  if (reason == "Timeout" || reason == "ServerTimeout") return Code::kDeadlineExceeded;
  if (reason == "InternalError" || reason == "ServiceUnavailable") return Code::kUnavailable;
  switch (http) {
    case 400:
    case 413:
    case 422: return Code::kInvalidArgument;
    case 401: return Code::kUnauthenticated;
    case 403: return Code::kPermissionDenied;
    case 404: return Code::kNotFound;
    case 405:
    case 406:
    case 415: return Code::kUnimplemented;
    case 409: return Code::kConflict;
    case 410: return Code::kFailedPrecondition;
    case 429: return Code::kResourceExhausted;
    case 504: return Code::kDeadlineExceeded;
    default: break;
  }
  return http >= 500 ? Code::kUnavailable : Code::kInternal;
}

std::string DefaultReason(int http) {
  switch (http) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "";
  }
}

Status Make(int http, std::string reason, std::string message, int retry_after_s) {
  if (reason.empty()) reason = DefaultReason(http);
  Code code = CodeFor(http, reason);
  if (message.empty()) message = "the server answered HTTP " + std::to_string(http);
  std::string suffix = std::string(kMarker) + std::to_string(http) + " " + (reason.empty() ? "-" : reason);
  if (retry_after_s > 0) suffix += " retry-after=" + std::to_string(retry_after_s);
  return Status(code, message + suffix + "]");
}

std::string StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const auto* s = j[key].get_ptr<const std::string*>();
  return s != nullptr ? *s : "";
}

}  // namespace

Status StatusFromStatusObject(const nlohmann::json& status) {
  int http = 0;
  if (status.is_object() && status.contains("code") && status["code"].is_number_integer()) {
    http = status["code"].get<int>();
  }
  int retry = 0;
  if (status.is_object() && status.contains("details") && status["details"].is_object() &&
      status["details"].contains("retryAfterSeconds") &&
      status["details"]["retryAfterSeconds"].is_number_integer()) {
    retry = status["details"]["retryAfterSeconds"].get<int>();
  }
  return Make(http, StringField(status, "reason"), StringField(status, "message"), retry);
}

Status StatusFromHttp(int http_code, std::string_view body, int retry_after_s) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && StringField(j, "kind") == "Status") {
    Status s = StatusFromStatusObject(j);
    auto parsed = ParseApiError(s);
    int retry = retry_after_s > 0 ? retry_after_s : (parsed ? parsed->retry_after_s : 0);
    return Make(http_code, parsed ? parsed->reason : "", StringField(j, "message"), retry);
  }
  std::string text(body.substr(0, 200));
  return Make(http_code, "", text, retry_after_s);
}

std::optional<ApiError> ParseApiError(const Status& status) {
  const std::string& m = status.message();
  size_t at = m.rfind(kMarker);
  if (at == std::string::npos || m.back() != ']') return std::nullopt;
  std::string inner = m.substr(at + kMarker.size(), m.size() - at - kMarker.size() - 1);
  ApiError e;
  char reason[128] = {0};
  int n = std::sscanf(inner.c_str(), "%d %127s retry-after=%d", &e.http_code, reason, &e.retry_after_s);
  if (n < 2) return std::nullopt;
  e.reason = reason == std::string("-") ? "" : reason;
  return e;
}

namespace {
bool HasReason(const Status& s, Code code, std::initializer_list<std::string_view> reasons) {
  if (s.code() != code) return false;
  auto e = ParseApiError(s);
  if (!e) return false;
  for (auto r : reasons) {
    if (e->reason == r) return true;
  }
  return false;
}
}  // namespace

bool IsNotFound(const Status& s) {
  return s.code() == Code::kNotFound && ParseApiError(s).has_value();
}
bool IsAlreadyExists(const Status& s) {
  return HasReason(s, Code::kAlreadyExists, {"AlreadyExists"});
}
bool IsConflict(const Status& s) {
  return s.code() == Code::kConflict && ParseApiError(s).has_value();
}
bool IsExpired(const Status& s) {
  return HasReason(s, Code::kFailedPrecondition, {"Expired", "Gone"});
}
bool IsForbidden(const Status& s) {
  return s.code() == Code::kPermissionDenied && ParseApiError(s).has_value();
}
bool IsUnauthorized(const Status& s) {
  return s.code() == Code::kUnauthenticated && ParseApiError(s).has_value();
}
bool IsInvalid(const Status& s) {
  return HasReason(s, Code::kInvalidArgument, {"Invalid", "BadRequest"});
}
bool IsTooManyRequests(const Status& s) {
  return s.code() == Code::kResourceExhausted && ParseApiError(s).has_value();
}
bool IsRetryable(const Status& s) {
  switch (s.code()) {
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kResourceExhausted: return true;
    default: return false;
  }
}

}  // namespace gpupool::kube
