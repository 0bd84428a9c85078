// Deferred device-to-host copies (docs/protocol.md, "Deferred copies") against the real server on the
// emulated device: the worker answers a MemcpyDtoHDeferred when the copy is done, in front of the
// synchronisation that covers it, and serves other calls meanwhile; bad copies are answered at once and
// latched; at most kMaxDeferredCopies are out; copies survive the destruction of their context.
#include <catch2/catch.hpp>
#include <cstring>
#include <map>

#include "remoting/protocol/call_io.h"
#include "tests/remoting/server/spin_kernel.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

// One answered frame: which request, its result, its tail.
struct Answer {
  std::uint64_t id = 0;
  std::uint16_t opcode = 0;
  std::uint32_t result = 0;
  std::string tail;
};

Answer Next(TestClient& c) {
  std::string payload;
  const protocol::FrameHeader header = c.NextReply(&payload);
  REQUIRE(payload.size() >= 4);
  Answer a{header.request_id, header.opcode, 0, payload.substr(4)};
  std::memcpy(&a.result, payload.data(), 4);
  return a;
}

constexpr auto kDeferred = static_cast<std::uint16_t>(Op::MemcpyDtoHDeferred);

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

}  // namespace
}  // namespace gpupool::testing
