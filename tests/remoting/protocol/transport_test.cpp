// Transport: frames over real sockets (socketpair, TCP loopback, Unix), gather writes, receive into
// caller buffers, peer close and timeouts as errors.
#include "remoting/protocol/transport.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <optional>
#include <thread>

#include "remoting/protocol/copy_ring.h"
#include "remoting/protocol/frame_reader.h"
#include "remoting/protocol/wire_writer.h"
#include "tests/support/process.h"

namespace gpupool::protocol {
namespace {

std::pair<Connection, Connection> Pair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  return {Connection(fds[0]), Connection(fds[1])};
}

TEST_CASE("a frame's parts arrive as one payload, read into the caller's buffer") {
  auto [a, b] = Pair();
  std::string big(kChunkSize, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  std::atomic<bool> sent{false};  // checked after the join: Catch's assertions are not thread-safe
  std::thread sender([&, &a = a] { sent = a.SendFrame(0x400, kFlagNoReply, 9, {"args", big, "!"}).ok(); });
  auto header = b.ReadHeader();
  REQUIRE(header.ok());
  CHECK(header->opcode == 0x400);
  CHECK(header->flags == kFlagNoReply);
  CHECK(header->request_id == 9);
  REQUIRE(header->payload_size == 4 + big.size() + 1);
  char args[4];
  REQUIRE(b.ReadExact(args, 4).ok());
  std::string dst(big.size(), 'x');
  REQUIRE(b.ReadExact(dst.data(), dst.size()).ok());
  CHECK(std::string_view(args, 4) == "args");
  CHECK(dst == big);
  REQUIRE(b.Skip(1).ok());
  sender.join();
  CHECK(sent);
}

TEST_CASE("oversized frames are refused by sender and receiver") {
  auto [a, b] = Pair();
  std::string too_big(kMaxPayload + 1, 'a');
  CHECK(a.SendFrame(0x100, 0, 1, {too_big}).code() == Code::kInvalidArgument);
  // A hostile peer writes the header by hand.
  unsigned char header[kHeaderSize] = {};
  std::uint32_t size = 0x7fffffff;
  std::memcpy(header, &size, 4);
  REQUIRE(::send(a.fd(), header, sizeof header, 0) == static_cast<ssize_t>(sizeof header));
  auto h = b.ReadHeader();
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().code() == Code::kInvalidArgument);
}

TEST_CASE("peer close mid-frame and receive timeouts are errors, not hangs") {
  auto [a, b] = Pair();
  REQUIRE(::send(a.fd(), "abc", 3, 0) == 3);
  a = Connection();
  auto h = b.ReadHeader();
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().code() == Code::kUnavailable);

  auto [c, d] = Pair();
  REQUIRE(d.SetReceiveTimeout(std::chrono::milliseconds(50)).ok());
  char byte;
  CHECK(d.ReadExact(&byte, 1).code() == Code::kDeadlineExceeded);
}

TEST_CASE("a read that polls first: data before, during and after the poll, peer close, timeout") {
  auto [a, b] = Pair();
  b.SetReadSpin(std::chrono::microseconds(200));
  char got[8] = {};
  REQUIRE(::send(a.fd(), "ready", 5, 0) == 5);  // already there
  auto n = b.ReadSome(got, sizeof got);
  REQUIRE(n.ok());
  CHECK(std::string_view(got, *n) == "ready");
  // Sent by another thread: read within the poll or by the blocking read after it, either way whole.
  std::atomic<bool> sent{false};
  std::thread sender([&, &a = a] { sent = ::send(a.fd(), "later", 5, 0) == 5; });
  std::string received;
  while (received.size() < 5) {
    auto some = b.ReadSome(got, sizeof got);
    REQUIRE(some.ok());
    received.append(got, *some);
  }
  sender.join();
  CHECK(sent);
  CHECK(received == "later");
  // Nothing comes: the poll ends and the read blocks until the receive timeout.
  REQUIRE(b.SetReceiveTimeout(std::chrono::milliseconds(50)).ok());
  CHECK(b.ReadSome(got, sizeof got).status().code() == Code::kDeadlineExceeded);
  a = Connection();  // the peer goes
  auto closed = b.ReadSome(got, sizeof got);
  REQUIRE_FALSE(closed.ok());
  CHECK(closed.status().code() == Code::kUnavailable);
  CHECK(b.peer_closed());
}

// Listens on `endpoint` (with `mode` for a Unix socket), connects, and moves one frame across.
void RoundTrip(const Endpoint& endpoint, std::optional<mode_t> mode = std::nullopt) {
  auto listener = Listener::Listen(endpoint, mode);
  REQUIRE(listener.ok());
  if (endpoint.kind == Endpoint::Kind::kTcp) CHECK(listener->endpoint().port != 0);
  auto client = Connect(listener->endpoint(), std::chrono::seconds(5));
  REQUIRE(client.ok());
  auto server = listener->Accept();
  REQUIRE(server.ok());
  REQUIRE(client->SendFrame(0x101, 0, 5, {"ping"}).ok());
  auto h = server->ReadHeader();
  REQUIRE(h.ok());
  std::string payload;
  REQUIRE(server->ReadPayload(h->payload_size, &payload).ok());
  CHECK(payload == "ping");
}

TEST_CASE("listen and connect over TCP (port 0) and a Unix socket") {
  testing::TempDir dir;
  for (std::string where : {std::string("127.0.0.1:0"), "unix:" + dir.File("s.sock")}) {
    INFO(where);
    auto endpoint = ParseEndpoint(where, true);
    REQUIRE(endpoint.ok());
    RoundTrip(*endpoint);
  }
  auto refused = ParseEndpoint("unix:" + dir.File("nobody-listens"));
  REQUIRE(refused.ok());
  CHECK_FALSE(Connect(*refused, std::chrono::seconds(1)).ok());
}

// The server's own channels between its processes: an abstract socket ("@name") has no file (so no
// mode to set, and no error for asking), and its name is free again once its listener is gone.
TEST_CASE("listen and connect on an abstract Unix socket") {
  Endpoint abstract;
  abstract.kind = Endpoint::Kind::kUnix;
  abstract.path = "@gpupool-transport-test-" + std::to_string(getpid());
  RoundTrip(abstract, 0600);
  RoundTrip(abstract, 0600);
  CHECK_FALSE(Connect(abstract, std::chrono::seconds(1)).ok());  // nobody listens any more
}

// gpupool-server --unix-mode: the socket has its mode, whatever the umask, before anyone can connect.
TEST_CASE("a Unix socket listens with the mode it is given") {
  testing::TempDir dir;
  const mode_t umask_before = ::umask(077);  // a umask that would hide the socket from everyone else
  for (mode_t mode : {mode_t{0600}, mode_t{0660}, mode_t{0666}}) {
    INFO(std::oct << mode);
    auto endpoint = ParseEndpoint("unix:" + dir.File("m.sock"), true);
    REQUIRE(endpoint.ok());
    auto listener = Listener::Listen(*endpoint, mode);
    REQUIRE(listener.ok());
    struct stat st {};
    REQUIRE(::stat(endpoint->path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == mode);
    CHECK(Connect(listener->endpoint(), std::chrono::seconds(5)).ok());
  }
  ::umask(umask_before);
  auto missing = ParseEndpoint("unix:" + dir.File("no-such-dir/m.sock"), true);
  REQUIRE(missing.ok());
  CHECK_FALSE(Listener::Listen(*missing, mode_t{0600}).ok());
}

}  // namespace
}  // namespace gpupool::protocol

namespace gpupool::protocol {
namespace {

TEST_CASE("frame reader: many frames per receive, whole bulk frames, errors at the end") {
  auto [a, b] = Pair();
  std::string big = std::string(kChunkSize, 'b');
  std::atomic<bool> sent{false};
  std::thread sender([&, &a = a] {
    bool ok = true;
    for (std::uint64_t i = 0; i < 1000; ++i)
      ok = ok && a.SendFrame(0x800, kFlagNoReply, i, {"p" + std::to_string(i)}).ok();
    ok = ok && a.SendFrame(0x400, 0, 1000, {"args", big}).ok();
    ok = ok && a.SendFrame(0x100, 0, 1001, {}).ok();
    unsigned char header[kHeaderSize];
    EncodeHeader({kMaxPayload + 1, 0x100, 0, 1002}, header);
    sent = ok && ::send(a.fd(), header, sizeof header, 0) == static_cast<ssize_t>(sizeof header);
  });
  FrameReader reader(&b);
  std::string_view payload;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    auto h = reader.Next(&payload);
    REQUIRE(h.ok());
    REQUIRE(h->request_id == i);
    REQUIRE(payload == "p" + std::to_string(i));
  }
  auto bulk = reader.Next(&payload);
  REQUIRE(bulk.ok());
  CHECK(payload.size() == 4 + big.size());
  CHECK(payload.substr(4) == big);
  auto empty = reader.Next(&payload);
  REQUIRE(empty.ok());
  CHECK(payload.empty());
  auto oversized = reader.Next(&payload);
  CHECK(oversized.status().code() == Code::kInvalidArgument);
  sender.join();
  CHECK(sent);

  auto [c, d] = Pair();
  REQUIRE(c.SendFrame(0x100, 0, 1, {"whole"}).ok());
  REQUIRE(::send(c.fd(), "\x40\x00\x00\x00", 4, 0) == 4);  // a header cut short, then the peer leaves
  c = Connection();
  FrameReader cut(&d);
  REQUIRE(cut.Next(&payload).ok());
  CHECK(cut.Next(&payload).status().code() == Code::kUnavailable);
}

TEST_CASE("frame reader: a bulk payload taken in parts, its tail straight into the caller's memory") {
  auto [a, b] = Pair();
  std::string big(kChunkSize, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  std::atomic<bool> sent{false};
  std::thread sender([&, &a = a] {
    bool ok = true;
    for (int i = 0; i < 3; ++i) ok = ok && a.SendFrame(0x400, 0, i, {"fields!!", big}).ok();
    sent = ok && a.SendFrame(0x100, 0, 9, {"small"}).ok();
  });
  FrameReader reader(&b);
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto h = reader.Header();
    REQUIRE(h.ok());
    CHECK(h->request_id == i);
    CHECK(reader.mid_frame());
    auto fields = reader.Take(8);
    REQUIRE(fields.ok());
    CHECK(*fields == "fields!!");
    REQUIRE(reader.left() == big.size());
    std::string into(big.size() + 1, 'x');
    CHECK(reader.TakeInto(into.data(), big.size() + 1).code() == Code::kInvalidArgument);  // past the frame
    CHECK(reader.Header().status().code() == Code::kInternal);  // this one is not finished
    REQUIRE(reader.TakeInto(into.data(), big.size()).ok());
    CHECK(into.substr(0, big.size()) == big);
    CHECK(into.back() == 'x');
    CHECK(reader.left() == 0);
  }
  std::string_view payload;
  auto small = reader.Next(&payload);
  REQUIRE(small.ok());
  CHECK(payload == "small");
  CHECK(!reader.mid_frame());
  sender.join();
  CHECK(sent);

  // The peer leaves inside a tail being received: that read fails, and so does every later one.
  auto [c, d] = Pair();
  unsigned char header[kHeaderSize];
  EncodeHeader({static_cast<std::uint32_t>(kChunkSize), 0x400, 0, 1}, header);
  REQUIRE(::send(c.fd(), header, sizeof header, 0) == static_cast<ssize_t>(sizeof header));
  REQUIRE(::send(c.fd(), big.data(), 1000, 0) == 1000);
  c = Connection();
  FrameReader cut(&d);
  REQUIRE(cut.Header().ok());
  std::string into(kChunkSize, '\0');
  CHECK(cut.TakeInto(into.data(), kChunkSize).code() == Code::kUnavailable);
  CHECK(!cut.broken().ok());
  CHECK(cut.mid_frame());
  CHECK(cut.Take(1).status().code() == Code::kUnavailable);
  CHECK(cut.Header().status().code() == Code::kUnavailable);
}

TEST_CASE("a descriptor travels with its frame (SCM_RIGHTS) and the payload follows") {
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

}  // namespace
}  // namespace gpupool::protocol
