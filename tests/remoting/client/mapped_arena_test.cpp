// The client's mapped arena (remoting/client/mapped_arena.h) against a scripted worker on a socket
// pair: it offers new addresses while the worker says the address is taken, maps the worker's memfd
// at the last one and frees the reservations it gave up; it gives up on a decline; and carves whole
// pages first fit, coalescing what comes back.
#include "remoting/client/mapped_arena.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <thread>
#include <vector>

#include "remoting/protocol/frame.h"
#include "remoting/protocol/mapped_arena.h"

namespace gpupool::client {
namespace {

using protocol::ArenaStatus;
using protocol::kMappedArenaBytes;

// A socket pair: the client's end and the scripted worker's.
struct Pair {
  protocol::Connection client, worker;
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    client = protocol::Connection(fds[0]);
    worker = protocol::Connection(fds[1]);
  }
};

// The worker reads one OpenMappedArena request and answers `status` (with `fd` when it is ready);
// returns the address the client asked for.
std::uint64_t Answer(protocol::Connection& worker, ArenaStatus status, int fd = -1) {
  auto header = worker.ReadHeader();
  REQUIRE(header.ok());
  REQUIRE(header->opcode == protocol::kOpOpenMappedArena);
  std::string payload;
  REQUIRE(worker.ReadPayload(header->payload_size, &payload).ok());
  auto address = protocol::DecodeArenaRequest(payload);
  REQUIRE(address.ok());
  const std::string reply = protocol::EncodeArenaReply({status, kMappedArenaBytes, 12345});
  if (fd >= 0) {
    REQUIRE(worker.SendFrameWithFd(header->opcode, protocol::kFlagReply, header->request_id, reply, fd).ok());
  } else {
    REQUIRE(worker.SendFrame(header->opcode, protocol::kFlagReply, header->request_id, {reply}).ok());
  }
  return *address;
}

bool Free(std::uint64_t address) {
  void* p = ::mmap(reinterpret_cast<void*>(address), 4096, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) return false;
  ::munmap(p, 4096);
  return p == reinterpret_cast<void*>(address);
}

TEST_CASE("the client offers other addresses while the worker's is taken, then maps the worker's memfd") {
  Pair pair;
  const int memfd = ::memfd_create("test-arena", MFD_CLOEXEC);
  REQUIRE(memfd >= 0);
  REQUIRE(::ftruncate(memfd, static_cast<off_t>(kMappedArenaBytes)) == 0);
  std::vector<std::uint64_t> asked;
  std::thread worker([&] {
    asked.push_back(Answer(pair.worker, ArenaStatus::kAddressTaken));
    asked.push_back(Answer(pair.worker, ArenaStatus::kAddressTaken));
    asked.push_back(Answer(pair.worker, ArenaStatus::kReady, memfd));
  });
  auto arena = MappedArena::Open(pair.client);
  worker.join();
  REQUIRE(arena.ok());
  REQUIRE(*arena != nullptr);
  REQUIRE(asked.size() == 3);
  CHECK(asked[0] != asked[1]);
  CHECK(asked[1] != asked[2]);
  CHECK(asked[0] % protocol::kMappedArenaPage == 0);
  for (std::size_t i = 1; i < 3; ++i) {  // then random arena-aligned addresses between 1 and 64 TiB
    CHECK(asked[i] % kMappedArenaBytes == 0);
    CHECK(asked[i] >= (1ull << 40));
    CHECK(asked[i] < (64ull << 40));
  }
  CHECK((*arena)->limit() == 12345);
  CHECK(Free(asked[0]));  // the reservations given up are gone
  CHECK(Free(asked[1]));

  std::size_t rounded = 0;
  void* p = (*arena)->Take(5000, &rounded);
  CHECK(reinterpret_cast<std::uint64_t>(p) == asked[2]);  // first fit: the arena's start
  CHECK(rounded == 8192);
  std::memcpy(p, "shared", 7);  // lands in the worker's memfd
  char seen[7] = {};
  CHECK(::pread(memfd, seen, 7, 0) == 7);
  CHECK(std::string(seen) == "shared");
  ::close(memfd);
}

TEST_CASE("the arena carves whole pages first fit and coalesces what comes back") {
  Pair pair;
  const int memfd = ::memfd_create("test-arena", MFD_CLOEXEC);
  REQUIRE(::ftruncate(memfd, static_cast<off_t>(kMappedArenaBytes)) == 0);
  std::thread worker([&] { Answer(pair.worker, ArenaStatus::kReady, memfd); });
  auto arena = MappedArena::Open(pair.client);
  worker.join();
  ::close(memfd);
  REQUIRE(arena.ok());
  REQUIRE(*arena != nullptr);
  MappedArena& a = **arena;
  std::size_t ra = 0, rb = 0, rc = 0, big = 0;
  char* first = static_cast<char*>(a.Take(1, &ra));
  char* second = static_cast<char*>(a.Take(4096, &rb));
  char* third = static_cast<char*>(a.Take(4097, &rc));
  CHECK(ra == 4096);
  CHECK(second == first + 4096);
  CHECK(third == second + 4096);
  CHECK(rc == 8192);
  a.Give(second, rb);
  CHECK(a.Take(8192, &big) == third + 8192);  // the hole of one page is too small
  a.Give(third + 8192, big);
  a.Give(first, ra);
  CHECK(a.Take(8192, &big) == first);  // the first two pages coalesced
  a.Give(first, big);
  a.Give(third, rc);
  CHECK(a.Take(kMappedArenaBytes, &big) == first);  // all of it, in one piece again
  CHECK(a.Take(1, &big) == nullptr);
  a.Give(first, kMappedArenaBytes);
  CHECK(a.Take(0, &big) == nullptr);
  CHECK(a.Take(kMappedArenaBytes + 1, &big) == nullptr);
}

TEST_CASE("a declined arena is no arena, and a wrong answer an error") {
  Pair pair;
  std::uint64_t asked = 0;
  std::thread worker([&] { asked = Answer(pair.worker, ArenaStatus::kDeclined); });
  auto arena = MappedArena::Open(pair.client);
  worker.join();
  REQUIRE(arena.ok());
  CHECK(*arena == nullptr);
  CHECK(Free(asked));

  Pair other;
  std::thread wrong([&] {
    auto header = other.worker.ReadHeader();
    REQUIRE(header.ok());
    std::string payload;
    REQUIRE(other.worker.ReadPayload(header->payload_size, &payload).ok());
    REQUIRE(other.worker.SendFrame(protocol::kOpOpenCopyRing, protocol::kFlagReply, 0, {"x"}).ok());
  });
  auto failed = MappedArena::Open(other.client);
  wrong.join();
  CHECK_FALSE(failed.ok());
}

}  // namespace
}  // namespace gpupool::client
