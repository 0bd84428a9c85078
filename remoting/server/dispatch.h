// Dispatch: one request frame in, at most one reply frame out. The table of handlers is generated
// from driver_calls.def: one function per call, Handle<Name>, taking the decoded request fields and
// filling the reply fields; dispatch does the decoding, the latching rules and the reply.
//
// A handler returns the call's CUresult. Request tails (copy data, kernel parameters, image chunks)
// arrive as `tail`, except a bulk host-to-device chunk's (HeadBytes): that one is still on the socket,
// in session.deferred_tail, for the handler to receive where it belongs; whatever the handler leaves
// unread the worker reads and drops. A reply's tail (device-to-host data) is session.reply_tail,
// bytes in session.staging or device memory the backend exposes (Backend::HostView).
//
// Thread-safety: none; one worker thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "remoting/protocol/calls.h"
#include "remoting/protocol/frame.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/session.h"

namespace gpupool::server {

#define GPUPOOL_CALL(id, name, mode, tail_kind, req, rep)                                  \
  CUresult Handle##name(Session& s, const protocol::Call<protocol::Op::name>::Request& in, \
                        protocol::Call<protocol::Op::name>::Reply* out, std::string_view tail);
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL

// Defines a handler: GPUPOOL_HANDLER(MemAlloc) { ... uses s, in, out, tail ... }
#define GPUPOOL_HANDLER(name)                                                                   \
  CUresult Handle##name([[maybe_unused]] Session& s,                                            \
                        [[maybe_unused]] const protocol::Call<protocol::Op::name>::Request& in, \
                        [[maybe_unused]] protocol::Call<protocol::Op::name>::Reply* out,        \
                        [[maybe_unused]] std::string_view tail)

// A client-sent integer as the CUDA enum `Enum`, or CUDA_ERROR_INVALID_VALUE when it is outside
// [first, end): converting an out-of-range value to an enum without a fixed underlying type is
// undefined behaviour, and the driver refuses such values anyway.
template <typename Enum>
CUresult ClientEnum(std::int64_t value, int first, int end, Enum* out) {
  if (value < first || value >= end) return CUDA_ERROR_INVALID_VALUE;
  *out = static_cast<Enum>(value);
  return CUDA_SUCCESS;
}

// How many bytes of a request frame's payload the worker reads before dispatching it: all of them,
// or, for a bulk MemcpyHtoD / MemcpyHtoDAsync chunk, only its fields (its tail is deferred).
std::size_t HeadBytes(const protocol::FrameHeader& header);

// Handles one request. Returns an error (InvalidArgument for a protocol violation: unknown opcode,
// wrong flags, a payload that does not decode) when the session must end; the caller sends the Error
// frame. A failed send is Unavailable.
Status Dispatch(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                std::string_view payload);

}  // namespace gpupool::server
