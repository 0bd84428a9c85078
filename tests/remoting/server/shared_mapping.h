// Memory a worker shares with a test client on its Unix socket (the copy ring, the deferred staging),
// asked for with its frame as the client library does; and a server listening on a Unix socket.
//
// Thread-safety: as TestClient.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "remoting/protocol/copy_ring.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {

struct SharedMapping {
  protocol::RingGeometry geometry;  // geometry.status: 0, or CUDA_ERROR_NOT_SUPPORTED (declined)
  int fd = -1;
  char* base = nullptr;
  std::size_t bytes = 0;

  SharedMapping() = default;
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  ~SharedMapping();
};

// Sends `opcode` (request id 77) and reads the answer; maps `bytes` of its memfd when it has one.
void RequestShared(TestClient& c, std::uint16_t opcode, std::size_t bytes, SharedMapping* out);

// A server that also listens on a Unix socket; `extra`: more flags.
struct UnixServer {
  explicit UnixServer(const std::vector<std::string>& extra = {});
  TempDir dir;
  std::string path = dir.File("server.sock");
  ServerProcess server;
  Endpoint endpoint() const;
};

}  // namespace gpupool::testing
