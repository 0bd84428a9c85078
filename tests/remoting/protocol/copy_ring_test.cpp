// The copy ring's shared pieces: a descriptor travels with a frame, the geometry decodes strictly,
// and the consumed count wakes a waiter in another thread (across processes it is the same futex).
#include "remoting/protocol/copy_ring.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "remoting/protocol/transport.h"

namespace gpupool::protocol {
namespace {

std::pair<Connection, Connection> Pair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  return {Connection(fds[0]), Connection(fds[1])};
}

TEST_CASE("copy ring: a descriptor travels with its frame and the payload follows") {
  auto [a, b] = Pair();
  int memfd = ::memfd_create("test", MFD_CLOEXEC);
  REQUIRE(memfd >= 0);
  REQUIRE(::ftruncate(memfd, 12345) == 0);
  const std::string payload = EncodeRingGeometry({0, kRingSlots, kRingSlotBytes, kRingHeaderBytes});
  REQUIRE(a.SendFrameWithFd(kOpOpenCopyRing, kFlagReply, 7, payload, memfd).ok());
  ::close(memfd);
  int got = -1;
  auto header = b.ReadHeaderWithFd(&got);
  REQUIRE(header.ok());
  CHECK(header->opcode == kOpOpenCopyRing);
  CHECK(header->request_id == 7);
  REQUIRE(got >= 0);
  struct stat st {};
  REQUIRE(::fstat(got, &st) == 0);
  CHECK(st.st_size == 12345);  // the same file, not a copy
  ::close(got);
  std::string body;
  REQUIRE(b.ReadPayload(header->payload_size, &body).ok());
  auto geometry = DecodeRingGeometry(body);
  REQUIRE(geometry.ok());
  CHECK(geometry->slots == kRingSlots);
  CHECK(geometry->slot_bytes == kRingSlotBytes);

  // A frame without a descriptor reads as one with none.
  REQUIRE(a.SendFrame(kOpOpenCopyRing, kFlagReply, 8, {payload}).ok());
  header = b.ReadHeaderWithFd(&got);
  REQUIRE(header.ok());
  CHECK(got == -1);
}

TEST_CASE("copy ring: the geometry decodes strictly") {
  const std::string good = EncodeRingGeometry({1, 2, 3, 4});
  CHECK(DecodeRingGeometry(good).ok());
  CHECK(DecodeRingGeometry(good.substr(0, good.size() - 1)).status().code() == Code::kInvalidArgument);
  CHECK(DecodeRingGeometry(good + "x").status().code() == Code::kInvalidArgument);
}

TEST_CASE("copy ring: a waiter wakes when the count it needs is reached, modulo 2^32") {
  RingHeader header{};
  header.consumed.store(0xfffffffeu);  // about to wrap
  CHECK(WaitConsumed(&header, 0xfffffffeu, std::chrono::milliseconds(0)));
  CHECK(WaitConsumed(&header, 0xfffffff0u, std::chrono::milliseconds(0)));  // long passed
  CHECK_FALSE(WaitConsumed(&header, 1, std::chrono::milliseconds(0)));
  std::thread worker([&] {
    for (int i = 0; i < 3; ++i) MarkConsumed(&header);  // 0xffffffff, 0, 1
  });
  CHECK(WaitConsumed(&header, 1, std::chrono::seconds(20)));
  worker.join();
  CHECK(header.consumed.load() == 1u);
}

}  // namespace
}  // namespace gpupool::protocol
