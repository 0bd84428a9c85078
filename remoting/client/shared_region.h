// Memory a worker on this host shares with the client: the copy ring (copy_ring.h) and the deferred
// staging (deferred_staging.h). Asked for with a frame of its own right after the handshake; the
// worker answers with the region's geometry and passes its memfd, or declines.
//
// Thread-safety: Request on the thread opening the session, with nothing else in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "remoting/protocol/copy_ring.h"
#include "remoting/protocol/transport.h"

namespace gpupool::client {

// A mapping of `bytes`, unmapped with the object.
class SharedRegion {
 public:
  SharedRegion(void* base, std::size_t bytes) : base_(base), bytes_(bytes) {}
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();
  char* base() const { return static_cast<char*>(base_); }

 private:
  void* base_;
  std::size_t bytes_;
};

// One answered frame whose reply may carry a descriptor: its payload, and the descriptor (now the
// caller's) or -1.
struct FdReply {
  std::string payload;
  int fd = -1;
};
// Sends `opcode` (called `name` in errors) with `payload` and reads the reply; an error when the
// exchange fails or the server answers with another frame (the connection is then unusable).
Result<FdReply> ExchangeForFd(protocol::Connection& conn, std::uint16_t opcode, std::string_view payload,
                              const char* name);

// Sends `opcode` (called `name` in errors) and maps the region the worker answers with. It must have
// `expected`'s geometry and `bytes` in all (client and worker are one build). Null when the worker declines;
// an error when the exchange failed (the connection is then unusable).
Result<std::unique_ptr<SharedRegion>> RequestSharedRegion(protocol::Connection& conn, std::uint16_t opcode,
                                                          const char* name,
                                                          const protocol::RingGeometry& expected,
                                                          std::size_t bytes);

}  // namespace gpupool::client
