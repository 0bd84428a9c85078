// Typed errors from the API server's Status objects.
//
// Every non-2xx answer (and every watch ERROR event) becomes a gpupool Status once, here. The HTTP
// code and the Status `reason` pick the Code; the reason, HTTP code and Retry-After survive in a
// suffix of the message, " [HTTP 409 Conflict]", which Annotate() leaves alone (it prefixes), so
// callers test errors with the Is* predicates below, never by parsing messages themselves.
//
//   reason                         HTTP  Code
//   NotFound                       404   kNotFound
//   AlreadyExists                  409   kAlreadyExists
//   Conflict                       409   kConflict
//   Expired, Gone                  410   kFailedPrecondition   (relist from scratch)
//   Forbidden                      403   kPermissionDenied
//   Unauthorized                   401   kUnauthenticated
//   Invalid, BadRequest, 413       422/400/413  kInvalidArgument
//   MethodNotAllowed, 406, 415     405/406/415  kUnimplemented
//   TooManyRequests                429   kResourceExhausted    (retry, honour Retry-After)
//   InternalError, ServiceUnavailable, other 5xx   kUnavailable (retry)
//   Timeout, ServerTimeout         504   kDeadlineExceeded     (retry)
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool::kube {

// What the API server said, as far as it survives in a Status.
struct ApiError {
  int http_code = 0;      // 0 when the error never reached the server (transport, timeout)
  std::string reason;     // Status.reason, e.g. "Conflict"; "" when the body had none
  int retry_after_s = 0;  // Retry-After header or details.retryAfterSeconds; 0 when absent
};

// From an HTTP answer: `body` should be a Status object; anything else is described by the code.
Status StatusFromHttp(int http_code, std::string_view body, int retry_after_s = 0);
// From a Status object found in a watch ERROR event.
Status StatusFromStatusObject(const nlohmann::json& status);
// Recovers the API error from a Status built above (nullopt for other Statuses).
std::optional<ApiError> ParseApiError(const Status& status);

bool IsNotFound(const Status& s);
bool IsAlreadyExists(const Status& s);
bool IsConflict(const Status& s);  // stale resourceVersion / failed precondition (409 Conflict)
bool IsExpired(const Status& s);   // 410 Expired or Gone: resourceVersion compacted away
bool IsForbidden(const Status& s);
bool IsUnauthorized(const Status& s);
bool IsInvalid(const Status& s);  // 422 Invalid or 400 BadRequest
bool IsTooManyRequests(const Status& s);
// Worth retrying later: 429, 5xx, 504, timeouts and transport failures (kUnavailable).
bool IsRetryable(const Status& s);

}  // namespace gpupool::kube
