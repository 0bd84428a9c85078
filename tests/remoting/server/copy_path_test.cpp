// Bulk copies on the worker's direct path (the emulated device's memory is host-addressable, so a
// bulk host-to-device chunk is received from the socket straight into the allocation and a
// device-to-host chunk is sent straight from it): every bound and handle check still applies before
// a byte moves, a refused chunk's bytes are read and dropped without breaking the framing, and
// nothing lands outside the session's own allocation.
#include <catch2/catch.hpp>

#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
constexpr std::size_t kChunk = protocol::kChunkSize;

std::uint64_t Alloc(TestClient& c, std::uint64_t bytes) {
  auto alloc = c.Call<Op::MemAlloc>({bytes});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  return std::get<0>(alloc.fields);
}

// `bytes` of device memory at `ptr`, read back in chunks.
std::string ReadBack(TestClient& c, std::uint64_t ptr, std::size_t bytes) {
  std::string out;
  for (std::size_t off = 0; off < bytes; off += kChunk) {
    auto got = c.Call<Op::MemcpyDtoH>({ptr + off, std::min(kChunk, bytes - off)});
    REQUIRE(got.result == CUDA_SUCCESS);
    out += got.tail;
  }
  return out;
}

void Fill(TestClient& c, std::uint64_t ptr, const std::string& data) {
  for (std::size_t off = 0; off < data.size(); off += kChunk)
    REQUIRE(c.Result<Op::MemcpyHtoD>({ptr + off}, std::string_view(data).substr(off, kChunk)) ==
            CUDA_SUCCESS);
}

TEST_CASE("a bulk chunk that would land past its allocation's end is refused, and nothing moves") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::uint64_t size = 2 * kChunk;
  const std::uint64_t a = Alloc(c, size), b = Alloc(c, size);  // b most likely right after a
  const std::string a_data = Pattern(size, 1), b_data = Pattern(size, 2);
  Fill(c, a, a_data);
  Fill(c, b, b_data);

  const std::string chunk = Pattern(kChunk, 3);
  // Ends one byte past a's end; then starting inside a, ending far past it; then before a.
  CHECK(c.Result<Op::MemcpyHtoD>({a + size - kChunk + 1}, chunk) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyHtoD>({a + size - 10}, chunk) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyHtoD>({a - 1}, chunk) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyHtoD>({~std::uint64_t{0} - 100}, chunk) == CUDA_ERROR_INVALID_VALUE);
  CHECK(ReadBack(c, a, size) == a_data);
  CHECK(ReadBack(c, b, size) == b_data);

  // Exactly up to the end, from an unaligned offset, is fine.
  CHECK(c.Result<Op::MemcpyHtoD>({a + size - kChunk}, chunk) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemcpyHtoD>({a + 3}, chunk) == CUDA_SUCCESS);
  std::string expect = a_data;
  expect.replace(size - kChunk, kChunk, chunk);
  expect.replace(3, kChunk, chunk);
  CHECK(ReadBack(c, a, size) == expect);
  CHECK(ReadBack(c, b, size) == b_data);

  // Reading past the end is refused too; a freed allocation takes no bytes.
  CHECK(c.Result<Op::MemcpyDtoH>({a + size - kChunk + 1, kChunk}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemFree>({a}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemcpyHtoD>({a}, chunk) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemcpyDtoH>({a, kChunk}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(ReadBack(c, b, size) == b_data);
}

TEST_CASE("a bulk chunk is bounded by the session's own allocation, not by the device's memory") {
  ServerProcess server = ServerProcess::Start();
  TestClient owner = TestClient::Open(server.endpoint);
  TestClient other = TestClient::Open(server.endpoint);
  owner.UseDevice0();
  other.UseDevice0();
  const std::uint64_t mine = Alloc(owner, 4 * kChunk);
  const std::string data = Pattern(4 * kChunk, 4);
  Fill(owner, mine, data);
  // Each session's worker has its own device memory: the other session's first allocation may
  // well start at the same address, but only its own (smaller) extent is writable.
  const std::uint64_t small = Alloc(other, kChunk / 2);
  const std::uint64_t far = std::max(mine, small) + 2 * kChunk;
  CHECK(other.Result<Op::MemcpyHtoD>({small}, Pattern(kChunk, 5)) == CUDA_ERROR_INVALID_VALUE);
  CHECK(other.Result<Op::MemcpyHtoD>({far}, Pattern(kChunk, 5)) == CUDA_ERROR_INVALID_VALUE);
  CHECK(other.Result<Op::MemcpyDtoH>({far, kChunk}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(other.Result<Op::MemcpyDtoH>({small, kChunk}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(ReadBack(owner, mine, 4 * kChunk) == data);
}

TEST_CASE(
    "refused asynchronous bulk chunks are latched and dropped, and a latched error stops a later copy") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::uint64_t ptr = Alloc(c, 2 * kChunk);
  const std::string data = Pattern(2 * kChunk, 6);
  Fill(c, ptr, data);

  // A stream the session does not own: no reply, the error is reported at the next synchronising call.
  c.Call<Op::MemcpyHtoDAsync>({ptr, 12345}, Pattern(kChunk, 7));
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_ERROR_INVALID_HANDLE);
  // Past the end on the legacy stream: likewise.
  c.Call<Op::MemcpyHtoDAsync>({ptr + kChunk + 1, 1}, Pattern(kChunk, 8));
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(ReadBack(c, ptr, 2 * kChunk) == data);

  // With an error latched, a synchronous bulk copy reports it and moves nothing.
  c.Call<Op::MemcpyHtoDAsync>({ptr, 12345}, Pattern(kChunk, 9));
  CHECK(c.Result<Op::MemcpyHtoD>({ptr}, Pattern(kChunk, 10)) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(ReadBack(c, ptr, 2 * kChunk) == data);

  // A good asynchronous chunk lands, in order with what follows.
  const std::string chunk = Pattern(kChunk, 11);
  c.Call<Op::MemcpyHtoDAsync>({ptr + 5, 1}, chunk);
  auto back = c.Call<Op::MemcpyDtoHAsync>({ptr + 5, kChunk, 1});
  REQUIRE(back.result == CUDA_SUCCESS);
  CHECK(back.tail == chunk);
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpupool::testing
