#include "tests/remoting/server/shared_mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace gpupool::testing {

SharedMapping::~SharedMapping() {
  if (base != nullptr) ::munmap(base, bytes);
  if (fd >= 0) ::close(fd);
}

void RequestShared(TestClient& c, std::uint16_t opcode, std::size_t bytes, SharedMapping* out) {
  REQUIRE(c.conn().SendFrame(opcode, 0, 77, {}).ok());
  auto header = c.conn().ReadHeaderWithFd(&out->fd);
  REQUIRE(header.ok());
  CHECK(header->opcode == opcode);
  CHECK(header->request_id == 77);
  std::string payload;
  REQUIRE(c.conn().ReadPayload(header->payload_size, &payload).ok());
  auto geometry = protocol::DecodeRingGeometry(payload);
  REQUIRE(geometry.ok());
  out->geometry = *geometry;
  if (geometry->status != 0) return;
  REQUIRE(out->fd >= 0);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, out->fd, 0);
  REQUIRE(p != MAP_FAILED);
  out->base = static_cast<char*>(p);
  out->bytes = bytes;
}

namespace {

std::vector<std::string> UnixFlags(const std::string& path, const std::vector<std::string>& extra) {
  std::vector<std::string> flags = {"--unix", path};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

}  // namespace

UnixServer::UnixServer(const std::vector<std::string>& extra)
    : server(ServerProcess::Start(UnixFlags(path, extra))) {}

Endpoint UnixServer::endpoint() const {
  Endpoint e;
  e.kind = Endpoint::Kind::kUnix;
  e.path = path;
  return e;
}

}  // namespace gpupool::testing
