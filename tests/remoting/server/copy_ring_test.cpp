// The worker's copy ring (protocol/copy_ring.h): offered only over a plain Unix socket, sealed so
// the client cannot shrink it under the worker, bounded slot by slot, and counted frame by frame
// whatever the frame's outcome, so a client's slot numbering never drifts.
#include "remoting/protocol/copy_ring.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/remoting/server/shared_mapping.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

struct Ring : SharedMapping {
  char* Slot(std::uint32_t i) const {
    return base + protocol::kRingHeaderBytes + i * protocol::kRingSlotBytes;
  }
  std::uint32_t consumed() const { return reinterpret_cast<protocol::RingHeader*>(base)->consumed.load(); }
  std::uint32_t status() const { return geometry.status; }
};

void OpenRing(TestClient& c, Ring* ring) {
  RequestShared(c, protocol::kOpOpenCopyRing, protocol::kRingBytes, ring);
  if (ring->status() != CUDA_SUCCESS) return;
  CHECK(ring->geometry.slots == protocol::kRingSlots);
  CHECK(ring->geometry.slot_bytes == protocol::kRingSlotBytes);
}

std::uint64_t Alloc(TestClient& c, std::uint64_t bytes) {
  auto alloc = c.Call<Op::MemAlloc>({bytes});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  return std::get<0>(alloc.fields);
}

TEST_CASE("copy ring: over a Unix socket the worker shares a sealed ring, and copies go through its slots") {
  UnixServer s;
  TestClient c = TestClient::Open(s.endpoint());
  Ring ring;
  OpenRing(c, &ring);
  REQUIRE(ring.status() == CUDA_SUCCESS);
  struct stat st {};
  REQUIRE(::fstat(ring.fd, &st) == 0);
  CHECK(static_cast<std::size_t>(st.st_size) == protocol::kRingBytes);
  // Sealed: the client can neither shrink the ring under the worker's mapping nor grow it.
  CHECK(::ftruncate(ring.fd, 4096) != 0);
  CHECK(::ftruncate(ring.fd, static_cast<off_t>(protocol::kRingBytes) * 2) != 0);

  c.UseDevice0();
  const std::uint64_t n = protocol::kRingSlotBytes;
  const std::uint64_t ptr = Alloc(c, 3 * n);
  const std::string data = Pattern(n, 5);
  std::memcpy(ring.Slot(3), data.data(), n);
  CHECK(c.Result<Op::MemcpyHtoDRing>({ptr + 7, 3, n}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemcpyDtoHRing>({ptr + 7, n, protocol::kRingSlots - 1}) == CUDA_SUCCESS);
  CHECK(std::string(ring.Slot(protocol::kRingSlots - 1), n) == data);
  // The same bytes over the socket path: the ring and the socket see one device memory.
  auto back = c.Call<Op::MemcpyDtoH>({ptr + 7, n});
  REQUIRE(back.result == CUDA_SUCCESS);
  CHECK(back.tail == data);
  CHECK(c.Result<Op::MemcpyDtoHAsyncRing>({ptr + 7, 100, 0, 0}) == CUDA_SUCCESS);
  CHECK(std::string(ring.Slot(0), 100) == data.substr(0, 100));
  c.Call<Op::MemcpyHtoDAsyncRing>({ptr, 0, 3, 10});
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  CHECK(ring.consumed() == 4);

  // Out of range: the slot, the size, the device range. Each is refused, counted, and the data
  // around it is untouched.
  CHECK(c.Result<Op::MemcpyHtoDRing>({ptr, protocol::kRingSlots, 16}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyHtoDRing>({ptr, 0, n + 1}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyHtoDRing>({ptr + 3 * n - 10, 0, 11}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyDtoHRing>({ptr + 3 * n - 10, 11, 0}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyDtoHRing>({ptr, 16, 0xffffffffu}) == CUDA_ERROR_INVALID_VALUE);
  // An asynchronous one is latched and reported by the next synchronising call.
  c.Call<Op::MemcpyHtoDAsyncRing>({ptr, 0, protocol::kRingSlots + 5, 16});
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(ring.consumed() == 10);
  back = c.Call<Op::MemcpyDtoH>({ptr + 7, n});
  REQUIRE(back.result == CUDA_SUCCESS);
  // The asynchronous copy wrote data[0, 10) to [ptr, ptr + 10): three of those bytes are read back.
  CHECK(back.tail.substr(0, 3) == data.substr(7, 3));
  CHECK(back.tail.substr(3) == data.substr(3));

  // 2D: rows of 100 bytes packed in a slot, to and from device rows 300 bytes apart; the gaps
  // between the rows stay as they were.
  const std::string rows = Pattern(5 * 100, 9);
  std::memcpy(ring.Slot(4), rows.data(), rows.size());
  const std::uint64_t consumed = ring.consumed();
  auto before = c.Call<Op::MemcpyDtoH>({ptr + 2 * 300 + 20, 5 * 300});
  REQUIRE(before.result == CUDA_SUCCESS);
  CHECK(c.Result<Op::Memcpy2DToDeviceRing>({ptr, 300, 20, 2, 100, 5, 0, 0, 4}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::Memcpy2DFromDeviceRing>({ptr, 300, 20, 2, 100, 5, 0, 1, 6}) == CUDA_SUCCESS);
  CHECK(std::string(ring.Slot(6), rows.size()) == rows);
  back = c.Call<Op::MemcpyDtoH>({ptr + 2 * 300 + 20, 5 * 300});
  REQUIRE(back.result == CUDA_SUCCESS);
  for (int r = 0; r < 5; ++r) CHECK(back.tail.substr(r * 300, 100) == rows.substr(r * 100, 100));
  CHECK(back.tail.substr(100, 200) == before.tail.substr(100, 200));  // a gap: as it was
  // Refused, and counted: a slot out of range, rows that do not fit a slot (also by overflow), device
  // rows past the allocation.
  CHECK(c.Result<Op::Memcpy2DToDeviceRing>({ptr, 300, 0, 0, 100, 5, 0, 0, protocol::kRingSlots}) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::Memcpy2DToDeviceRing>({ptr, 4096, 0, 0, 4096, 65, 0, 0, 0}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::Memcpy2DFromDeviceRing>({ptr, 1, 0, 0, 1ull << 33, 1ull << 33, 0, 0, 0}) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::Memcpy2DFromDeviceRing>({ptr, 4096, 0, 150, 4096, 60, 0, 0, 0}) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(ring.consumed() == consumed + 6);

  // One ring per session: a second request is declined without a descriptor.
  Ring second;
  OpenRing(c, &second);
  CHECK(second.status() == CUDA_ERROR_NOT_SUPPORTED);
  CHECK(second.fd == -1);
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
}

TEST_CASE("copy ring: not over TCP, and ring copies without a ring are refused") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  Ring ring;
  OpenRing(c, &ring);
  CHECK(ring.status() == CUDA_ERROR_NOT_SUPPORTED);
  CHECK(ring.fd == -1);
  c.UseDevice0();
  const std::uint64_t ptr = Alloc(c, 4096);
  CHECK(c.Result<Op::MemcpyHtoDRing>({ptr, 0, 16}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyDtoHRing>({ptr, 16, 0}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::Memcpy2DToDeviceRing>({ptr, 64, 0, 0, 16, 2, 0, 0, 0}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::Memcpy2DFromDeviceRing>({ptr, 64, 0, 0, 16, 2, 0, 0, 0}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
}

TEST_CASE("copy ring: a malformed OpenCopyRing ends the session with a protocol error") {
  UnixServer s;
  TestClient c = TestClient::Open(s.endpoint());
  REQUIRE(c.conn().SendFrame(protocol::kOpOpenCopyRing, 0, 1, {"junk"}).ok());
  auto header = c.conn().ReadHeader();
  REQUIRE(header.ok());
  CHECK(header->opcode == protocol::kOpError);
}

}  // namespace
}  // namespace gpupool::testing
