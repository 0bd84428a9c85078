// Raw frame bytes for tests that must send what the protocol library's Connection would refuse to
// (wrong lengths, unknown flags, truncated frames): the seed corpus generator and the adversarial
// server test build their byte streams with these.
//
// Thread-safety: free functions on values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "remoting/protocol/call_io.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::testing {

// A header declaring `declared_size` bytes, followed by `payload` (which may be shorter or longer).
inline std::string RawFrame(std::uint16_t opcode, std::uint16_t flags, std::uint64_t request_id,
                            std::string_view payload, std::uint32_t declared_size) {
  unsigned char header[protocol::kHeaderSize];
  protocol::EncodeHeader({declared_size, opcode, flags, request_id}, header);
  std::string out(reinterpret_cast<const char*>(header), sizeof header);
  out.append(payload);
  return out;
}

// A well-formed frame.
inline std::string Frame(std::uint16_t opcode, std::uint16_t flags, std::uint64_t request_id,
                         std::string_view payload) {
  return RawFrame(opcode, flags, request_id, payload, static_cast<std::uint32_t>(payload.size()));
}

// A valid Hello frame, as the client library sends it.
inline std::string HelloFrame(const std::string& process_name = "fuzz", std::uint32_t pid = 4242) {
  protocol::Hello hello;
  hello.magic = protocol::kMagic;
  hello.version = protocol::kProtocolVersion;
  hello.process_name = process_name;
  hello.pid = pid;
  return Frame(protocol::kOpHello, 0, 0, protocol::EncodeHello(hello));
}

// A well-formed request frame for `op`, flags as the call's mode requires.
template <protocol::Op op>
std::string RequestFrame(std::uint64_t request_id, const typename protocol::Call<op>::Request& fields,
                         std::string_view tail = {}) {
  protocol::Writer w;
  protocol::Encode(w, fields);
  std::string payload = w.data();
  payload.append(tail);
  std::uint16_t flags = protocol::Call<op>::mode == protocol::Mode::kAsync ? protocol::kFlagNoReply : 0;
  return Frame(static_cast<std::uint16_t>(op), flags, request_id, payload);
}

}  // namespace gpupool::testing
