// Test helpers for gpupool-server: start the real binary (`--device emulated`) and speak the
// protocol to it directly with the protocol library — no client library in between, so tests can
// also send what a well-behaved client never would.
//
// Thread-safety: one thread per object.
#pragma once

#include <cuda.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "remoting/protocol/call_io.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/transport.h"
#include "tests/support/process.h"

namespace gpupool::testing {

inline constexpr std::chrono::seconds kWait{20};

struct ServerProcess {
  Subprocess process;
  Endpoint endpoint;    // the TCP listen address
  std::string control;  // "127.0.0.1:PORT" when --control-listen was given
  std::string metrics;  // likewise for --metrics-listen

  // Starts gpupool-server --device emulated --listen 127.0.0.1:0 plus `extra` flags (and `env` added to
  // its environment) and waits for its "listening on" line.
  static ServerProcess Start(const std::vector<std::string>& extra = {},
                             const std::map<std::string, std::string>& env = {});
};

// A reply with its own copy of the tail.
template <protocol::Op op>
struct Reply {
  std::uint32_t result = 0;
  typename protocol::Call<op>::Reply fields{};
  std::string tail;
};

class TestClient {
 public:
  // Connects and completes the handshake (REQUIREs success).
  static TestClient Open(const Endpoint& endpoint, const std::string& pod_uid = "",
                         const std::string& token = "", const protocol::TlsClientFiles* tls = nullptr);
  // Connects (and with `tls`, completes the TLS handshake) without a gpupool handshake.
  static TestClient Raw(const Endpoint& endpoint, const protocol::TlsClientFiles* tls = nullptr);
  // Sends Hello and returns the server's answer: HelloOk's session id, or the Error it sent.
  gpupool::Result<std::uint64_t> Hello(const std::string& pod_uid = "", const std::string& token = "",
                                       const std::string& pod_token = "");

  protocol::Connection& conn() { return conn_; }
  std::uint64_t session_id() const { return session_id_; }

  // Sends a call (kAsync ones with kFlagNoReply) and, unless async, waits for its reply.
  template <protocol::Op op>
  Reply<op> Call(const typename protocol::Call<op>::Request& request, std::string_view tail = {}) {
    Status sent = protocol::SendRequest<op>(conn_, ++next_id_, request, tail);
    REQUIRE(sent.ok());
    Reply<op> reply;
    if (protocol::Call<op>::mode == protocol::Mode::kAsync) return reply;
    std::string payload = ReadReply(next_id_, static_cast<std::uint16_t>(op));
    auto parsed = protocol::ParseReply<op>(payload);
    INFO(parsed.status().ToString());
    REQUIRE(parsed.ok());
    reply.result = parsed->result;
    reply.fields = parsed->fields;
    reply.tail = std::string(parsed->tail);
    return reply;
  }
  template <protocol::Op op>
  std::uint32_t Result(const typename protocol::Call<op>::Request& request, std::string_view tail = {}) {
    return Call<op>(request, tail).result;
  }

  // Sends a call without reading its reply (a deferred call's comes later); returns its request id.
  template <protocol::Op op>
  std::uint64_t Send(const typename protocol::Call<op>::Request& request) {
    REQUIRE(protocol::SendRequest<op>(conn_, ++next_id_, request).ok());
    return next_id_;
  }
  // The next reply frame, whichever request it answers: its header, and its payload in *payload.
  protocol::FrameHeader NextReply(std::string* payload);

  // Retains `device`'s primary context and makes it current.
  void UseDevice(int device);
  void UseDevice0() { UseDevice(0); }
  // Expects the next frame to be an Error and the connection to close after it.
  protocol::ErrorMessage ExpectErrorAndClose();
  // Reads one reply frame for `request_id`; REQUIREs it is one.
  std::string ReadReply(std::uint64_t request_id, std::uint16_t opcode);

 private:
  explicit TestClient(protocol::Connection conn) : conn_(std::move(conn)) {}
  protocol::Connection conn_;
  std::uint64_t next_id_ = 0;
  std::uint64_t session_id_ = 0;
};

// A frame header as the wire has it (for frames a well-behaved client would never send).
std::string Header(std::uint32_t size, std::uint16_t opcode, std::uint16_t flags, std::uint64_t id);
// Sends `bytes` as they are; REQUIREs all of them went out.
void SendRaw(protocol::Connection& conn, const std::string& bytes);

// A plain HTTP/1.0 GET of `path` from "host:port"; the whole response, head included.
std::string HttpGet(const std::string& address, const std::string& path);
// Whether `page` (a /metrics page) has `line` as a whole line.
inline bool HasLine(const std::string& page, const std::string& line) {
  return page.find("\n" + line + "\n") != std::string::npos;
}

// Random-looking but reproducible bytes.
std::string Pattern(std::size_t size, unsigned seed);

}  // namespace gpupool::testing
