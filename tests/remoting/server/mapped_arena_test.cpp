// The mapped arena (protocol/mapped_arena.h, docs/protocol.md "Mapped host memory") against the real
// server on the emulated device: offered only beside a copy ring and once, mapped at the client's
// address over a sealed memfd; registered ranges are device memory to copies and memsets (counted as
// host copies when one side is device memory), checked against the arena, each other and the limit;
// a let-go range reads as zeros and is no longer taken.
// And MappedArena::Create itself never maps over something already there.
#include "remoting/protocol/mapped_arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <vector>

#include "remoting/protocol/call_io.h"
#include "remoting/server/mapped_arena.h"
#include "tests/remoting/server/control_client.h"
#include "tests/remoting/server/shared_mapping.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::ArenaStatus;
using protocol::kMappedArenaBytes;
using protocol::Op;

// Address space of the arena's size in this process, freed with the object.
struct Reservation {
  char* base = static_cast<char*>(
      ::mmap(nullptr, kMappedArenaBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  Reservation() { REQUIRE(base != MAP_FAILED); }
  ~Reservation() { ::munmap(base, kMappedArenaBytes); }
  std::uint64_t address() const { return reinterpret_cast<std::uint64_t>(base); }
};

// One OpenMappedArena exchange; *fd is the memfd when it came (else -1).
protocol::ArenaReply AskArena(TestClient& c, std::uint64_t address, int* fd) {
  REQUIRE(
      c.conn().SendFrame(protocol::kOpOpenMappedArena, 0, 78, {protocol::EncodeArenaRequest(address)}).ok());
  auto header = c.conn().ReadHeaderWithFd(fd);
  REQUIRE(header.ok());
  CHECK(header->opcode == protocol::kOpOpenMappedArena);
  CHECK(header->request_id == 78);
  std::string payload;
  REQUIRE(c.conn().ReadPayload(header->payload_size, &payload).ok());
  auto reply = protocol::DecodeArenaReply(payload);
  REQUIRE(reply.ok());
  return *reply;
}

TEST_CASE(
    "mapped arena: beside a copy ring, once, at the client's address, registered pages are device memory") {
  UnixServer server({"--session-mapped-memory", "64KiB", "--control-listen", "127.0.0.1:0",
                     "--metrics-listen", "127.0.0.1:0"});
  TestClient c = TestClient::Open(server.endpoint());
  std::vector<std::unique_ptr<Reservation>> taken;  // addresses the worker uses: kept, as the client does
  taken.push_back(std::make_unique<Reservation>());
  int fd = -1;
  CHECK(AskArena(c, taken.back()->address(), &fd).status == ArenaStatus::kDeclined);  // no copy ring yet
  CHECK(fd == -1);
  SharedMapping ring;
  RequestShared(c, protocol::kOpOpenCopyRing, protocol::kRingBytes, &ring);
  REQUIRE(ring.geometry.status == 0);

  // Independent address spaces may overlap: while the worker has something at ours it says so, and
  // the client asks again with another (MappedArena::Open), up to kMappedArenaAttempts times.
  protocol::ArenaReply ready = AskArena(c, taken.back()->address(), &fd);
  for (int attempt = 1;
       ready.status == ArenaStatus::kAddressTaken && attempt < protocol::kMappedArenaAttempts; ++attempt) {
    CHECK(fd == -1);
    taken.push_back(std::make_unique<Reservation>());
    ready = AskArena(c, taken.back()->address(), &fd);
  }
  REQUIRE(ready.status == ArenaStatus::kReady);
  const Reservation& r = *taken.back();
  REQUIRE(fd >= 0);
  CHECK(ready.bytes == kMappedArenaBytes);
  CHECK(ready.limit == 64 * 1024);
  CHECK(::ftruncate(fd, 4096) != 0);  // sealed
  REQUIRE(::mmap(r.base, kMappedArenaBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == r.base);
  ::close(fd);
  int again = -1;
  CHECK(AskArena(c, r.address() + (1 << 20), &again).status == ArenaStatus::kDeclined);  // once
  CHECK(again == -1);

  c.UseDevice0();
  const std::uint64_t a = r.address();
  REQUIRE(c.Result<Op::MemHostRegisterMapped>({a, 8192}) == CUDA_SUCCESS);
  // Outside the arena, not whole pages, overlapping, empty, past the limit: refused.
  CHECK(c.Result<Op::MemHostRegisterMapped>({a - 4096, 4096}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemHostRegisterMapped>({a + kMappedArenaBytes - 4096, 8192}) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemHostRegisterMapped>({a + 8192 + 1, 4096}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemHostRegisterMapped>({a + 8192, 100}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemHostRegisterMapped>({a + 4096, 8192}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemHostRegisterMapped>({a + 8192, 0}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemHostRegisterMapped>({a + 8192, 64 * 1024}) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(c.Result<Op::MemHostRegisterMapped>({a + 8192, 56 * 1024}) == CUDA_SUCCESS);  // the rest fits

  // The worker's copies and memsets read and write the client's pages.
  const std::string data = Pattern(8192, 9);
  std::memcpy(r.base, data.data(), data.size());
  auto alloc = c.Call<Op::MemAlloc>({8192});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  const std::uint64_t device = std::get<0>(alloc.fields);
  CHECK(c.Result<Op::MemcpyDtoD>({device, a, 8192}) == CUDA_SUCCESS);
  CHECK(c.Call<Op::MemcpyDtoH>({device, 8192}).tail == data);
  (void)c.Send<Op::MemsetD8>({a + 4096, 0x33, 4096, 0});
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  CHECK(std::string(r.base + 4096, 4096) == std::string(4096, '\x33'));
  CHECK(c.Result<Op::MemcpyDtoD>({device, a + 4096, 8192}) == CUDA_ERROR_INVALID_VALUE);  // past the range
  // The client's own copies of its pinned buffers travel this way: they count as host copies.
  CHECK(c.Result<Op::MemcpyDtoD>({a + 4096, device, 4096}) == CUDA_SUCCESS);
  CHECK(std::string(r.base + 4096, 4096) == data.substr(0, 4096));
  control::v1::ListSessionsResponse sessions;
  REQUIRE(ControlStub(server.server.control)->ListSessions(ControlContext().get(), {}, &sessions).ok());
  REQUIRE(sessions.sessions_size() == 1);
  CHECK(sessions.sessions(0).bytes_to_device() == 8192);
  CHECK(sessions.sessions(0).bytes_from_device() == 8192 + 4096);  // MemcpyDtoH and the copy into the arena
  CHECK(sessions.sessions(0).mapped_host_bytes() == 64 * 1024);    // both ranges: the whole limit
  const std::string id = std::to_string(sessions.sessions(0).id());
  const std::string series =
      "gpupool_session_mapped_host_bytes{namespace=\"\",pod=\"\",session=\"" + id + "\"}";
  CHECK(HasLine(HttpGet(server.server.metrics, "/metrics"), series + " 65536"));
  // Host memory: neither freed as device memory nor exported.
  CHECK(c.Result<Op::MemFree>({a}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Call<Op::IpcGetMemHandle>({a}).result != CUDA_SUCCESS);

  // Let go: the pages read as zeros, the range is no device memory any more, and once only.
  CHECK(c.Result<Op::MemHostUnregisterMapped>({a}) == CUDA_SUCCESS);
  CHECK(std::string(r.base, 8192) == std::string(8192, '\0'));
  CHECK(c.Result<Op::MemcpyDtoD>({device, a, 4096}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemHostUnregisterMapped>({a}) == CUDA_ERROR_INVALID_VALUE);
  REQUIRE(ControlStub(server.server.control)->ListSessions(ControlContext().get(), {}, &sessions).ok());
  CHECK(sessions.sessions(0).mapped_host_bytes() == 56 * 1024);
  CHECK(c.Result<Op::MemHostRegisterMapped>({a, 8192}) == CUDA_SUCCESS);  // room again
}

TEST_CASE(
    "mapped arena: declined over TCP and with --session-mapped-memory 0, where the calls find no arena") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  Reservation r;
  int fd = -1;
  CHECK(AskArena(c, r.address(), &fd).status == ArenaStatus::kDeclined);
  CHECK(fd == -1);
  c.UseDevice0();
  CHECK(c.Result<Op::MemHostRegisterMapped>({r.address(), 4096}) == CUDA_ERROR_NOT_SUPPORTED);
  CHECK(c.Result<Op::MemHostUnregisterMapped>({r.address()}) == CUDA_ERROR_INVALID_VALUE);

  UnixServer off({"--session-mapped-memory", "0"});
  TestClient local = TestClient::Open(off.endpoint());
  SharedMapping ring;
  RequestShared(local, protocol::kOpOpenCopyRing, protocol::kRingBytes, &ring);
  REQUIRE(ring.geometry.status == 0);
  CHECK(AskArena(local, r.address(), &fd).status == ArenaStatus::kDeclined);
}

TEST_CASE("mapped arena: a request that names no usable address ends the session") {
  UnixServer server;
  TestClient c = TestClient::Open(server.endpoint());
  REQUIRE(c.conn().SendFrame(protocol::kOpOpenMappedArena, 0, 5, {protocol::EncodeArenaRequest(4095)}).ok());
  auto header = c.conn().ReadHeader();
  REQUIRE(header.ok());
  CHECK(header->opcode == protocol::kOpError);
}

TEST_CASE("mapped arena: never mapped over what is already at the address") {
  void* mine =
      ::mmap(nullptr, kMappedArenaBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  REQUIRE(mine != MAP_FAILED);
  const auto address = reinterpret_cast<std::uint64_t>(mine);
  auto taken = server::MappedArena::Create(address + (1 << 20), 1 << 20);  // overlaps mine
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.status().code() == Code::kAlreadyExists);
  ::munmap(mine, kMappedArenaBytes);
  auto arena = server::MappedArena::Create(address, 1 << 20);  // free now
  REQUIRE(arena.ok());
  CHECK((*arena)->limit() == 1 << 20);
  CHECK((*arena)->registered_bytes() == 0);
}

}  // namespace
}  // namespace gpupool::testing
