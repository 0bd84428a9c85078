#include "remoting/server/stat_reasons.h"

#include <iterator>

namespace gpupool::server {
namespace {

template <typename E, std::size_t N>
const char* Name(E value, const char* const (&names)[N]) {
  auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : "unknown";
}

}  // namespace

const char* SessionEndName(SessionEnd reason) {
  static const char* const kNames[] = {"unknown",         "closed",         "client_lost",  "revoked",
                                       "server_stopping", "protocol_error", "device_error", "worker_crashed"};
  static_assert(std::size(kNames) == kSessionEndCount);
  return Name(reason, kNames);
}

const char* ProtocolErrorName(ProtocolError reason) {
  static const char* const kNames[] = {
      "unknown", "handshake", "handshake_timeout", "version", "frame", "opcode", "flags", "payload"};
  static_assert(std::size(kNames) == kProtocolErrorCount);
  return Name(reason, kNames);
}

const char* AuthFailureName(AuthFailure reason) {
  static const char* const kNames[] = {"bad_token",          "not_admitted",     "pod_token_missing",
                                       "pod_token_rejected", "pod_uid_mismatch", "token_review_failed"};
  static_assert(std::size(kNames) == kAuthFailureCount);
  return Name(reason, kNames);
}

}  // namespace gpupool::server
