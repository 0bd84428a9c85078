// libFuzzer target: the bytes a client (or an attacker) can put on a gpupool-server connection.
// The input is the byte stream of one connection. It goes through the same code the worker runs:
// FrameReader (header checks, length limits, buffering), then per frame the handshake decoders or
// the per-opcode request decoding exactly as dispatch.cpp's Run does it (Decode, then the tail or
// ExpectEnd). Reply parsing (the client's side) runs on the same payloads, since a hostile server
// can send anything too. Nothing here may crash, hang or allocate beyond the frame limits.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "remoting/protocol/call_io.h"
#include "remoting/protocol/codec.h"
#include "remoting/protocol/copy_ring.h"
#include "remoting/protocol/frame_reader.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/mapped_arena.h"

namespace gpupool::protocol {
namespace {

// As dispatch.cpp decodes a request before calling its handler; the result is only checked, as a
// decoded request that the worker would hand to a handler must consume the payload exactly.
template <Op op>
void DecodeLikeWorker(std::string_view payload) {
  Reader reader(payload);
  typename Call<op>::Request request{};
  Decode(reader, &request);
  if constexpr (Call<op>::tail == Tail::kRequestTail) {
    std::string_view tail = reader.Rest();
    if (reader.ok() && tail.size() > payload.size()) __builtin_trap();
  } else {
    (void)reader.ExpectEnd();
  }
  if (reader.ok() && reader.remaining() != 0) __builtin_trap();  // the worker would read garbage
  (void)ParseReply<op>(payload);
}

using Decoder = void (*)(std::string_view);
struct Entry {
  std::uint16_t opcode;
  Decoder decode;
};
constexpr std::array kDecoders = {
#define GPUPOOL_CALL(id, name, mode, tail, req, rep) Entry{id, &DecodeLikeWorker<Op::name>},
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL
};

void DecodeFrame(const FrameHeader& header, std::string_view payload) {
  if (payload.size() > kMaxPayload) __builtin_trap();  // FrameReader must enforce the cap
  switch (header.opcode) {
    case kOpHello: (void)DecodeHello(payload); return;
    case kOpHelloOk: (void)DecodeHelloOk(payload); return;
    case kOpError: (void)DecodeError(payload); return;
    case kOpOpenCopyRing:
    case kOpOpenDeferredStaging: (void)DecodeRingGeometry(payload); return;
    case kOpOpenMappedArena:
      (void)DecodeArenaRequest(payload);
      (void)DecodeArenaReply(payload);
      return;
  }
  const OpInfo* info = FindOp(header.opcode);
  for (const Entry& e : kDecoders) {
    if (e.opcode != header.opcode) continue;
    if (info == nullptr) __builtin_trap();  // the table and FindOp disagree
    e.decode(payload);
    return;
  }
  if (info != nullptr) __builtin_trap();
}

// Feeds `data` through a socket pair into a FrameReader, as the worker reads its connection.
void ReadStream(const std::uint8_t* data, std::size_t size) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
  // Whatever fits the socket buffer without blocking: fuzz inputs are far smaller than it.
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
  std::size_t sent = 0;
  while (sent < size) {
    ssize_t n = ::send(fds[1], data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  ::close(fds[1]);  // end of stream: the reader sees EOF after the last byte
  Connection conn(fds[0]);
  FrameReader reader(&conn);
  while (true) {
    std::string_view payload;
    auto header = reader.Next(&payload);
    if (!header.ok()) break;
    DecodeFrame(*header, payload);
  }
}

}  // namespace
}  // namespace gpupool::protocol

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gpupool::protocol::ReadStream(data, size);
  return 0;
}
