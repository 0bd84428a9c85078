// Typed calls over the Session, one per driver_calls.def entry:
//
//   protocol::Call<Op::MemAlloc>::Reply reply;
//   CUresult r = Rpc<Op::MemAlloc>(ctx, {bytes}, &reply);
//
// kAsync calls return once sent; kDeferred ones too (Defer). Others wait for the reply and decode its fields
// strictly; a malformed reply breaks the session. Begin/Finish split a call so that chunked copies can have
// many requests in flight.
//
// Thread-safety: as Session.
#pragma once

#include <cuda.h>

#include "remoting/client/state.h"
#include "remoting/protocol/calls.h"
#include "remoting/protocol/codec.h"

namespace gpupool::client {

struct Tail {
  const iovec* parts = nullptr;
  int count = 0;
};

// On a given session (a connection the client is still deciding about: local_server.h); the
// functions below use the program's session.
template <protocol::Op op>
CUresult BeginOn(Session* session, std::uint64_t context, const typename protocol::Call<op>::Request& request,
                 Pending* pending, Tail tail = {}) {
  if (session == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  protocol::Writer w;
  protocol::Encode(w, request);
  constexpr bool kNoReply = protocol::Call<op>::mode == protocol::Mode::kAsync;
  return session->Send(static_cast<std::uint16_t>(op), kNoReply, context, w.data(), tail.parts, tail.count,
                       kNoReply ? nullptr : pending);
}

template <protocol::Op op>
CUresult FinishOn(Session* session, Pending* pending, typename protocol::Call<op>::Reply* reply) {
  if (session == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = session->Wait(pending);
  if (result != CUDA_SUCCESS) return result;
  protocol::Reader reader(pending->fields);
  typename protocol::Call<op>::Reply ignored;
  if (!protocol::Decode(reader, reply != nullptr ? reply : &ignored) || !reader.ExpectEnd().ok()) {
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  return CUDA_SUCCESS;
}

template <protocol::Op op>
CUresult RpcOn(Session* session, std::uint64_t context, const typename protocol::Call<op>::Request& request,
               typename protocol::Call<op>::Reply* reply = nullptr, Tail tail = {}) {
  Pending pending;
  CUresult result = BeginOn<op>(session, context, request, &pending, tail);
  if (result != CUDA_SUCCESS || protocol::Call<op>::mode == protocol::Mode::kAsync) return result;
  return FinishOn<op>(session, &pending, reply);
}

template <protocol::Op op>
CUresult Begin(std::uint64_t context, const typename protocol::Call<op>::Request& request, Pending* pending,
               Tail tail = {}) {
  return BeginOn<op>(State::Get().session(), context, request, pending, tail);
}

template <protocol::Op op>
CUresult Finish(Pending* pending, typename protocol::Call<op>::Reply* reply) {
  return FinishOn<op>(State::Get().session(), pending, reply);
}

// A kDeferred call: sent now; its reply's bulk bytes land in `tail` when the reply is read
// (Session::SendDeferred). `on_blocking_stream`: the call's stream is not CU_STREAM_NON_BLOCKING.
template <protocol::Op op>
CUresult Defer(std::uint64_t context, const typename protocol::Call<op>::Request& request, void* tail,
               std::size_t tail_size, bool on_blocking_stream, std::size_t row = 0, std::size_t pitch = 0) {
  static_assert(protocol::Call<op>::mode == protocol::Mode::kDeferred);
  Session* session = State::Get().session();
  if (session == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  protocol::Writer w;
  protocol::Encode(w, request);
  return session->SendDeferred(static_cast<std::uint16_t>(op), context, w.data(), tail, tail_size,
                               on_blocking_stream, row, pitch);
}

template <protocol::Op op>
CUresult Rpc(std::uint64_t context, const typename protocol::Call<op>::Request& request,
             typename protocol::Call<op>::Reply* reply = nullptr, Tail tail = {}) {
  return RpcOn<op>(State::Get().session(), context, request, reply, tail);
}

}  // namespace gpupool::client
