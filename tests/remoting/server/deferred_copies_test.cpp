// Deferred device-to-host copies (docs/protocol.md, "Deferred copies") against the real server on the
// emulated device: the worker answers a MemcpyDtoHDeferred when the copy is done, in front of the
// synchronisation that covers it, and serves other calls meanwhile; bad copies are answered at once and
// latched; at most kMaxDeferredCopies are out; copies survive the destruction of their context.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>

#include "remoting/protocol/call_io.h"
#include "remoting/protocol/deferred_staging.h"
#include "tests/remoting/server/shared_mapping.h"
#include "tests/remoting/server/spin_kernel.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

constexpr auto kDeferred = static_cast<std::uint16_t>(Op::MemcpyDtoHDeferred);

// One answered frame: which request, its result, and for a deferred copy's success its staging slot
// (0: none), then the tail.
struct Answer {
  std::uint64_t id = 0;
  std::uint16_t opcode = 0;
  std::uint32_t result = 0;
  std::uint32_t slot = 0;
  std::string tail;
};

Answer Next(TestClient& c) {
  std::string payload;
  const protocol::FrameHeader header = c.NextReply(&payload);
  REQUIRE(payload.size() >= 4);
  Answer a{header.request_id, header.opcode, 0, 0, payload.substr(4)};
  std::memcpy(&a.result, payload.data(), 4);
  if ((a.opcode == kDeferred || a.opcode == static_cast<std::uint16_t>(Op::Memcpy2DFromDeviceDeferred)) &&
      a.result == CUDA_SUCCESS) {
    REQUIRE(a.tail.size() >= 4);
    std::memcpy(&a.slot, a.tail.data(), 4);
    a.tail.erase(0, 4);
  }
  return a;
}

// Allocates `size` bytes holding Pattern(size, seed); returns the device address.
std::uint64_t Filled(TestClient& c, std::size_t size, unsigned seed) {
  auto alloc = c.Call<Op::MemAlloc>({size});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  const std::uint64_t ptr = std::get<0>(alloc.fields);
  REQUIRE(c.Result<Op::MemcpyHtoD>({ptr}, Pattern(size, seed)) == CUDA_SUCCESS);
  return ptr;
}

TEST_CASE("deferred copies: answered in front of the synchronisation that finds them done, not before") {
  ServerProcess server = ServerProcess::Start({"--emulated-kernel-time", "1s"});
  TestClient c = TestClient::Open(server.endpoint);
  const std::uint64_t spin = LoadSpin(c);
  auto created = c.Call<Op::StreamCreate>({CU_STREAM_NON_BLOCKING});
  REQUIRE(created.result == CUDA_SUCCESS);
  const std::uint64_t stream = std::get<0>(created.fields);
  const std::uint64_t ptr = Filled(c, 4096, 1);

  Launch(c, spin, stream);  // the stream is busy for a second
  const std::uint64_t copy = c.Send<Op::MemcpyDtoHDeferred>({ptr + 96, 1000, stream});
  // The worker goes on with the session: these replies come next (Call requires the next frame to
  // be its own), while the copy waits behind the kernel.
  CHECK(c.Call<Op::MemGetInfo>({}).result == CUDA_SUCCESS);
  CHECK(c.Result<Op::StreamQuery>({stream}) == CUDA_ERROR_NOT_READY);
  CHECK(c.Result<Op::StreamQuery>({0}) == CUDA_SUCCESS);  // the NULL stream does not wait for it

  const std::uint64_t sync = c.Send<Op::StreamSynchronize>({stream});
  const Answer first = Next(c);
  CHECK(first.id == copy);
  CHECK(first.opcode == kDeferred);
  CHECK(first.result == CUDA_SUCCESS);
  CHECK(first.slot == 0);  // over TCP the bytes are the tail
  CHECK(first.tail == Pattern(4096, 1).substr(96, 1000));
  const Answer second = Next(c);
  CHECK(second.id == sync);
  CHECK(second.result == CUDA_SUCCESS);
}

TEST_CASE(
    "deferred copies: a bad one is answered at once and latched, at most 64 are out, Finish answers all") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::uint64_t ptr = Filled(c, 1 << 16, 2);

  // Past the allocation's end, and on a stream the session does not own.
  for (const auto& [request, code] :
       std::vector<std::pair<protocol::Call<Op::MemcpyDtoHDeferred>::Request, CUresult>>{
           {{ptr + 65000, 1000, 0}, CUDA_ERROR_INVALID_VALUE}, {{ptr, 16, 77}, CUDA_ERROR_INVALID_HANDLE}}) {
    const std::uint64_t id = c.Send<Op::MemcpyDtoHDeferred>(request);
    const Answer refused = Next(c);
    CHECK(refused.id == id);
    CHECK(refused.result == code);
    CHECK(c.Result<Op::CtxSynchronize>({}) == code);  // latched for the next synchronisation
  }
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  // The same for rows: a last row past the allocation, more than one chunk of rows, no rows, an
  // overflowing pitch, a foreign stream.
  for (const auto& [request, code] :
       std::vector<std::pair<protocol::Call<Op::Memcpy2DFromDeviceDeferred>::Request, CUresult>>{
           {{ptr, 1024, 512, 65, 0}, CUDA_ERROR_INVALID_VALUE},
           {{ptr, 1 << 16, 1 << 16, 17, 0}, CUDA_ERROR_INVALID_VALUE},
           {{ptr, 64, 64, 0, 0}, CUDA_ERROR_INVALID_VALUE},
           {{ptr, UINT64_MAX / 2, 8, 4, 0}, CUDA_ERROR_INVALID_VALUE},
           {{ptr, 64, 16, 4, 77}, CUDA_ERROR_INVALID_HANDLE}}) {
    const std::uint64_t id = c.Send<Op::Memcpy2DFromDeviceDeferred>(request);
    const Answer refused = Next(c);
    CHECK(refused.id == id);
    CHECK(refused.result == code);
    CHECK(c.Result<Op::CtxSynchronize>({}) == code);
  }
  // Rows 100 apart, 40 bytes each, packed in the reply.
  const std::uint64_t rows = c.Send<Op::Memcpy2DFromDeviceDeferred>({ptr + 10, 100, 40, 5, 0});
  const std::uint64_t finished = c.Send<Op::DeferredCopiesFinish>({});
  const Answer packed = Next(c);
  CHECK(packed.id == rows);
  CHECK(packed.result == CUDA_SUCCESS);
  std::string want;
  for (int r = 0; r < 5; ++r) want += Pattern(1 << 16, 2).substr(10 + r * 100, 40);
  CHECK(packed.tail == want);
  CHECK(Next(c).id == finished);

  std::map<std::uint64_t, std::size_t> offsets;  // request id -> offset copied
  for (std::size_t i = 0; i < protocol::kMaxDeferredCopies; ++i)
    offsets[c.Send<Op::MemcpyDtoHDeferred>({ptr + i * 100, 100, 0})] = i * 100;
  const std::uint64_t over = c.Send<Op::MemcpyDtoHDeferred>({ptr, 100, 0});
  const Answer refused = Next(c);  // the 65th, at once; the others wait for a synchronisation
  CHECK(refused.id == over);
  CHECK(refused.result == CUDA_ERROR_OUT_OF_MEMORY);

  const std::uint64_t finish = c.Send<Op::DeferredCopiesFinish>({});
  const std::string data = Pattern(1 << 16, 2);
  for (std::size_t i = 0; i < protocol::kMaxDeferredCopies; ++i) {
    const Answer a = Next(c);
    INFO("reply " << i << " answers request " << a.id);
    REQUIRE(offsets.count(a.id) == 1);
    CHECK(a.result == CUDA_SUCCESS);
    CHECK(a.tail == data.substr(offsets[a.id], 100));
    offsets.erase(a.id);
  }
  CHECK(Next(c).id == finish);
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_ERROR_OUT_OF_MEMORY);  // the 65th, latched
  // Nothing is left to answer: the next frame is the next call's reply.
  CHECK(c.Result<Op::DeferredCopiesFinish>({}) == CUDA_SUCCESS);
}

TEST_CASE("deferred copies: a copy outlives the context it was made in") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  auto created = c.Call<Op::CtxCreate>({0, 0});
  REQUIRE(created.result == CUDA_SUCCESS);
  const std::uint64_t context = std::get<0>(created.fields);
  c.Call<Op::CtxSetCurrent>({context});
  const std::uint64_t ptr = Filled(c, 8192, 3);
  const std::uint64_t copy = c.Send<Op::MemcpyDtoHDeferred>({ptr, 8192, 0});
  // Its staging and event die with the context: the worker keeps the bytes before destroying it.
  REQUIRE(c.Result<Op::CtxDestroy>({context}) == CUDA_SUCCESS);
  const std::uint64_t finish = c.Send<Op::DeferredCopiesFinish>({});
  const Answer a = Next(c);
  CHECK(a.id == copy);
  CHECK(a.result == CUDA_SUCCESS);
  CHECK(a.tail == Pattern(8192, 3));
  CHECK(Next(c).id == finish);
}

// A client on the worker's host: beside its copy ring it gets the deferred staging, and replies name
// the slot holding the bytes instead of carrying them.
TEST_CASE("deferred copies: beside a copy ring the bytes wait in the shared staging, not on the socket") {
  UnixServer s;
  TestClient c = TestClient::Open(s.endpoint());
  SharedMapping early;  // only beside a ring
  RequestShared(c, protocol::kOpOpenDeferredStaging, protocol::kStagingBytes, &early);
  CHECK(early.geometry.status == CUDA_ERROR_NOT_SUPPORTED);
  CHECK(early.fd == -1);
  SharedMapping ring, staging, again;
  RequestShared(c, protocol::kOpOpenCopyRing, protocol::kRingBytes, &ring);
  REQUIRE(ring.geometry.status == CUDA_SUCCESS);
  RequestShared(c, protocol::kOpOpenDeferredStaging, protocol::kStagingBytes, &staging);
  REQUIRE(staging.geometry.status == CUDA_SUCCESS);
  CHECK(staging.geometry.slots == protocol::kStagingSlots);
  CHECK(staging.geometry.slot_bytes == protocol::kStagingSlotBytes);
  CHECK(::ftruncate(staging.fd, 4096) != 0);  // sealed
  RequestShared(c, protocol::kOpOpenDeferredStaging, protocol::kStagingBytes, &again);
  CHECK(again.geometry.status == CUDA_ERROR_NOT_SUPPORTED);  // once per session
  auto* header = reinterpret_cast<protocol::StagingHeader*>(staging.base);
  auto slot_bytes = [&](std::uint32_t slot, std::size_t n) {
    return std::string(
        staging.base + protocol::kStagingHeaderBytes + (slot - 1) * protocol::kStagingSlotBytes, n);
  };

  c.UseDevice0();
  const std::string data = Pattern(1 << 16, 4);
  const std::uint64_t ptr = Filled(c, 1 << 16, 4);
  const std::uint64_t copy = c.Send<Op::MemcpyDtoHDeferred>({ptr + 10, 500, 0});
  const std::uint64_t sync = c.Send<Op::CtxSynchronize>({});
  const Answer a = Next(c);
  CHECK(a.id == copy);
  REQUIRE(a.result == CUDA_SUCCESS);
  REQUIRE(a.slot >= 1);
  REQUIRE(a.slot <= protocol::kStagingSlots);
  CHECK(a.tail.empty());
  CHECK(header->held[a.slot - 1].load() == 1);
  CHECK(slot_bytes(a.slot, 500) == data.substr(10, 500));
  CHECK(Next(c).id == sync);

  // While the client holds that slot the worker does not write it: 64 more copies take the other 63
  // slots and one pinned buffer of the worker's, whose bytes come on the socket.
  std::map<std::uint64_t, std::size_t> offsets;
  for (std::size_t i = 0; i < protocol::kMaxDeferredCopies; ++i)
    offsets[c.Send<Op::MemcpyDtoHDeferred>({ptr + i * 100, 100, 0})] = i * 100;
  const std::uint64_t finish = c.Send<Op::DeferredCopiesFinish>({});
  int on_socket = 0;
  for (std::size_t i = 0; i < protocol::kMaxDeferredCopies; ++i) {
    const Answer b = Next(c);
    REQUIRE(offsets.count(b.id) == 1);
    REQUIRE(b.result == CUDA_SUCCESS);
    CHECK(b.slot != a.slot);
    const std::string want = data.substr(offsets[b.id], 100);
    if (b.slot == 0) {
      ++on_socket;
      CHECK(b.tail == want);
    } else {
      CHECK(slot_bytes(b.slot, 100) == want);
    }
  }
  CHECK(on_socket == 1);
  CHECK(Next(c).id == finish);
  CHECK(slot_bytes(a.slot, 500) == data.substr(10, 500));  // untouched
  // Copied out: the client frees its slots, and the worker uses them again.
  for (auto& held : header->held) held.store(0);
  const std::uint64_t last = c.Send<Op::MemcpyDtoHDeferred>({ptr, 64, 0});
  c.Send<Op::DeferredCopiesFinish>({});
  const Answer b = Next(c);
  CHECK(b.id == last);
  CHECK(b.slot != 0);
  CHECK(slot_bytes(b.slot, 64) == data.substr(0, 64));
  Next(c);
}

}  // namespace
}  // namespace gpupool::testing
