// Sending and parsing call frames (driver_calls.def) over a Connection.
//
//   Request frame:  opcode = the call, flags = kFlagNoReply for kAsync calls, payload = the encoded
//                   request fields, then the tail (bulk bytes) for kRequestTail calls.
//   Reply frame:    same opcode and request id, flags = kFlagReply, payload = u32 CUresult, then the
//                   encoded reply fields and the tail only when the result is 0 (CUDA_SUCCESS).
//
// Thread-safety: as Connection (one sender, one receiver at a time).
#pragma once

#include <string_view>
#include <utility>

#include "remoting/protocol/calls.h"
#include "remoting/protocol/codec.h"
#include "remoting/protocol/transport.h"

namespace gpupool::protocol {

template <Op op>
Status SendRequest(Connection& conn, std::uint64_t request_id, const typename Call<op>::Request& fields,
                   std::string_view tail = {}) {
  Writer w;
  Encode(w, fields);
  std::uint16_t flags = Call<op>::mode == Mode::kAsync ? kFlagNoReply : 0;
  return conn.SendFrame(static_cast<std::uint16_t>(op), flags, request_id, {w.data(), tail});
}

// `fields` is the encoded reply tuple (empty unless result == 0).
inline Status SendReply(Connection& conn, const FrameHeader& request, std::uint32_t result,
                        std::string_view fields = {}, std::string_view tail = {}) {
  char code[4];
  std::memcpy(code, &result, 4);
  return conn.SendFrame(request.opcode, kFlagReply, request.request_id,
                        {std::string_view(code, 4), fields, tail});
}

template <Op op>
struct ParsedReply {
  std::uint32_t result = 0;
  typename Call<op>::Reply fields{};
  std::string_view tail;  // kReplyTail calls: the bulk bytes, a view into the parsed payload
};

// Strict: a malformed payload, or a tail on a call without one, is an error.
template <Op op>
Result<ParsedReply<op>> ParseReply(std::string_view payload) {
  Reader r(payload);
  ParsedReply<op> reply;
  r.U32(&reply.result);
  if (reply.result == 0) Decode(r, &reply.fields);
  if (reply.result == 0 && Call<op>::tail == Tail::kReplyTail) {
    reply.tail = r.Rest();
  } else {
    GPUPOOL_RETURN_IF_ERROR(r.ExpectEnd());
  }
  if (!r.ok()) return r.status();
  return reply;
}

}  // namespace gpupool::protocol
