// The bounded label values of the server's event counters (docs/operations.md, "gpupool-server"):
// why a session ended, which protocol rule a peer broke, why a connection was refused. Workers store
// these as numbers in their SessionStats; the broker counts and names them.
//
// Thread-safety: constants and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpupool::server {

enum class SessionEnd : std::uint32_t {
  kUnknown = 0,     // the worker has not said (still running, or it died before it could)
  kClosed,          // the client closed the connection between two frames
  kClientLost,      // the connection broke: reset, keepalive timeout, EOF inside a frame, failed send
  kRevoked,         // Control Revoke (the pod's share was taken back)
  kServerStopping,  // the broker is shutting down
  kProtocolError,   // the client broke the protocol (see ProtocolError)
  kDeviceError,     // the worker could not open or initialise its device
  kWorkerCrashed,   // the worker died without saying why (a signal, or an exit before it could)
  kCount,
};

enum class ProtocolError : std::uint32_t {
  kNone = 0,
  kHandshake,         // first frame not a well-formed Hello (bad magic, wrong opcode, too large)
  kHandshakeTimeout,  // Hello not complete within the handshake deadline
  kVersion,           // a protocol version this server does not speak
  kFrame,             // a frame header that does not decode (bad magic, oversized payload)
  kOpcode,            // an opcode no call has
  kFlags,             // reply flag from a client, or kFlagNoReply on the wrong kind of call
  kPayload,           // a payload that does not decode as the call's fields
  kCount,
};

enum class AuthFailure : std::uint32_t {
  kBadToken,           // missing or wrong token (--token-file)
  kNotAdmitted,        // the pod has no admission on this server
  kPodTokenMissing,    // --pod-token-review, and the Hello has neither pod token nor shared token
  kPodTokenRejected,   // the TokenReview did not accept the token (expired, audience, pod gone, ...)
  kPodUidMismatch,     // the Hello claims another pod than the token is bound to
  kTokenReviewFailed,  // the Kubernetes API could not be asked or did not answer in time
  kCount,
};

inline constexpr std::size_t kSessionEndCount = static_cast<std::size_t>(SessionEnd::kCount);
inline constexpr std::size_t kProtocolErrorCount = static_cast<std::size_t>(ProtocolError::kCount);
inline constexpr std::size_t kAuthFailureCount = static_cast<std::size_t>(AuthFailure::kCount);

// Label values: "closed", "client_lost", ...; "unknown" for kUnknown/kNone or a value out of range.
const char* SessionEndName(SessionEnd reason);
const char* ProtocolErrorName(ProtocolError reason);
const char* AuthFailureName(AuthFailure reason);

}  // namespace gpupool::server
