// Session control messages: the client's Hello, the server's HelloOk, and the Error frame the
// server sends before it ends a session (docs/protocol.md, "Handshake").
//
// Thread-safety: values and free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool::protocol {

// opcode kOpHello: u32 magic, u16 version, str token, str process name, u32 pid, str pod uid,
// str pod token.
struct Hello {
  std::uint32_t magic = 0;
  std::uint16_t version = 0;
  std::string token;  // empty when the server needs none
  std::string process_name;
  std::uint32_t pid = 0;
  std::string pod_uid;  // empty outside Kubernetes
  // The pod's projected service-account token (audience gpupool.io), which the server checks with a
  // TokenReview; empty outside Kubernetes. Apart from `token`, the shared secret of --token-file.
  std::string pod_token;
};

// opcode kOpHelloOk: u64 session id, str server version, str device kind ("cuda" / "emulated").
struct HelloOk {
  std::uint64_t session_id = 0;
  std::string server_version;
  std::string device_kind;
};

// opcode kOpError: u32 gpupool::Code, str message. The sender closes the connection after it.
struct ErrorMessage {
  Code code = Code::kInternal;
  std::string message;
};

std::string EncodeHello(const Hello& m);
// Strict: malformed or trailing bytes fail; magic and version are checked by the caller (so it can
// say which was wrong).
Result<Hello> DecodeHello(std::string_view payload);
std::string EncodeHelloOk(const HelloOk& m);
Result<HelloOk> DecodeHelloOk(std::string_view payload);
std::string EncodeError(const ErrorMessage& m);
Result<ErrorMessage> DecodeError(std::string_view payload);

}  // namespace gpupool::protocol
