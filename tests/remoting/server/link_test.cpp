// JIT options and linking through the server (emulated device, nvJitLink): LinkComplete,
// ImageDownload and ModuleLoadDataEx, well-formed and malformed. A malformed request is an error for
// that call only; the session carries on.
#include <catch2/catch.hpp>
#include <cstring>

#include "remoting/protocol/jit_options.h"
#include "tests/remoting/server/image_upload.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::i32s;
using protocol::Op;
using protocol::u64s;

// One self-contained kernel as PTX (a link of one input is still a link).
const char* const kPtx =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry k_linked(.param .u64 p, .param .u32 n)\n{\n  ret;\n}\n";

u64s Words(const std::string& hash) {
  u64s words(4);
  std::memcpy(words.data(), hash.data(), 32);
  return words;
}

// Info and error log sizes of 4096, the wall time.
const i32s kLogCodes = {CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                        CU_JIT_WALL_TIME};
const u64s kLogValues = {4096, 4096, 0};

TEST_CASE("link: a PTX input linked, the image downloaded in chunks and loaded from the cache") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::string hash = Upload(c, std::string(kPtx) + '\0');
  auto linked = c.Call<Op::LinkComplete>({kLogCodes, kLogValues, {CU_JIT_INPUT_PTX}, Words(hash), "k.ptx"});
  REQUIRE(linked.result == CUDA_SUCCESS);
  const auto& [result, after, image_hash, size, info, error] = linked.fields;
  INFO(error);
  REQUIRE(result == CUDA_SUCCESS);
  CHECK(after.size() == 3);
  CHECK(error.empty());
  CHECK(after[1] == 0);  // no error log: nothing written
  REQUIRE(image_hash.size() == 32);
  REQUIRE(size > 64);
  std::string image;
  for (std::uint64_t offset = 0; offset < size; offset += 40) {
    auto part = c.Call<Op::ImageDownload>({image_hash, offset, std::min<std::uint64_t>(40, size - offset)});
    REQUIRE(part.result == CUDA_SUCCESS);
    image += part.tail;
  }
  CHECK(image.size() == size);
  CHECK(image.compare(0, 4,
                      "\x7f"
                      "ELF") == 0);
  CHECK(Sha256(image) == image_hash);
  CHECK(std::get<0>(c.Call<Op::ImageQuery>({image_hash}).fields) == 1);
  auto module = c.Call<Op::ModuleLoadData>({image_hash});
  REQUIRE(module.result == CUDA_SUCCESS);
  CHECK(c.Result<Op::ModuleGetFunction>({std::get<0>(module.fields), "k_linked"}) == CUDA_SUCCESS);

  // Downloads stay inside images the session holds.
  CHECK(c.Result<Op::ImageDownload>({image_hash, size, 1}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::ImageDownload>({image_hash, size + 1, 0}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::ImageDownload>({image_hash, 0, protocol::kChunkSize + 1}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::ImageDownload>({Sha256("unknown"), 0, 1}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::ImageDownload>({"short", 0, 1}) == CUDA_ERROR_INVALID_VALUE);
  // Only images the session's links made: an upload (any tenant's, in a server's store) is not served.
  CHECK(c.Result<Op::ImageDownload>({hash, 0, 1}) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("link: broken inputs fail the link with an error log, and the session carries on") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::string ptx = std::string(kPtx);
  const std::string truncated = Upload(c, ptx.substr(0, ptx.size() / 2) + '\0');
  const std::string cubin = Upload(c,
                                   "\x7f"
                                   "ELF, but no cubin");
  struct Case {
    CUjitInputType type;
    std::string hash;
    CUresult want;
  };
  for (const Case& k : {Case{CU_JIT_INPUT_PTX, truncated, CUDA_ERROR_INVALID_PTX},
                        Case{CU_JIT_INPUT_CUBIN, cubin, CUDA_ERROR_INVALID_IMAGE},
                        Case{CU_JIT_INPUT_FATBINARY, cubin, CUDA_ERROR_INVALID_IMAGE}}) {
    auto linked = c.Call<Op::LinkComplete>({kLogCodes, kLogValues, {k.type}, Words(k.hash), "bad"});
    REQUIRE(linked.result == CUDA_SUCCESS);
    const auto& [result, after, image_hash, size, info, error] = linked.fields;
    INFO(error);
    CHECK(result == k.want);
    CHECK(image_hash.empty());
    CHECK(size == 0);
    CHECK_FALSE(error.empty());
    CHECK(error.size() < protocol::kMaxJitLogBytes);
  }
  // A log size far past the cap is capped, not allocated.
  auto huge = c.Call<Op::LinkComplete>(
      {{CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES}, {1ull << 40}, {CU_JIT_INPUT_PTX}, Words(truncated), "bad"});
  REQUIRE(huge.result == CUDA_SUCCESS);
  CHECK(std::get<1>(huge.fields)[0] <= protocol::kMaxJitLogBytes);
  CHECK(std::get<5>(huge.fields).size() < protocol::kMaxJitLogBytes);
  CHECK(c.Result<Op::DriverGetVersion>({}) == CUDA_SUCCESS);
}

TEST_CASE("link: without nvJitLink the emulated device answers NOT_SUPPORTED and says what is missing") {
  ServerProcess server = ServerProcess::Start({}, {{"GPUPOOL_NVJITLINK", "/nonexistent/libnvJitLink.so.13"}});
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::string hash = Upload(c, std::string(kPtx) + '\0');
  for (int i = 0; i < 2; ++i) {
    auto linked = c.Call<Op::LinkComplete>({kLogCodes, kLogValues, {CU_JIT_INPUT_PTX}, Words(hash), "k.ptx"});
    REQUIRE(linked.result == CUDA_SUCCESS);
    CHECK(std::get<0>(linked.fields) == CUDA_ERROR_NOT_SUPPORTED);
    CHECK(std::get<5>(linked.fields).find("libnvJitLink.so.13") != std::string::npos);
  }
  CHECK(c.Result<Op::DriverGetVersion>({}) == CUDA_SUCCESS);
  // And the server's log says it (once per worker: the loader's answer is kept).
  CHECK(server.process.WaitForLine("needs libnvJitLink.so.13", kWait).ok());
}

TEST_CASE("link: malformed requests are refused at the call") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const u64s words = Words(Upload(c, std::string(kPtx) + '\0'));
  const i32s ptx = {CU_JIT_INPUT_PTX};
  auto refused = [&](const i32s& codes, const u64s& values, const i32s& types, const u64s& hashes,
                     const std::string& names) {
    return c.Result<Op::LinkComplete>({codes, values, types, hashes, names});
  };
  CHECK(refused({CU_JIT_WALL_TIME}, {}, ptx, words, "a") == CUDA_ERROR_INVALID_VALUE);  // counts differ
  CHECK(refused({CU_JIT_INFO_LOG_BUFFER}, {0x1000}, ptx, words, "a") ==
        CUDA_ERROR_INVALID_VALUE);  // a pointer
  CHECK(refused({CU_JIT_GLOBAL_SYMBOL_ADDRESSES}, {0x1000}, ptx, words, "a") == CUDA_ERROR_INVALID_VALUE);
  CHECK(refused({CU_JIT_NUM_OPTIONS}, {0}, ptx, words, "a") == CUDA_ERROR_INVALID_VALUE);
  CHECK(refused({-1}, {0}, ptx, words, "a") == CUDA_ERROR_INVALID_VALUE);
  CHECK(refused(i32s(protocol::kMaxJitOptions + 1, CU_JIT_MAX_REGISTERS),
                u64s(protocol::kMaxJitOptions + 1, 32), ptx, words, "a") == CUDA_ERROR_INVALID_VALUE);
  CHECK(refused({}, {}, {}, {}, "") == CUDA_ERROR_INVALID_VALUE);  // no inputs
  CHECK(refused({}, {}, {CU_JIT_NUM_INPUT_TYPES}, words, "a") == CUDA_ERROR_INVALID_VALUE);
  CHECK(refused({}, {}, {-1}, words, "a") == CUDA_ERROR_INVALID_VALUE);
  CHECK(refused({}, {}, ptx, u64s(words.begin(), words.begin() + 3), "a") == CUDA_ERROR_INVALID_VALUE);
  CHECK(refused({}, {}, ptx, words, std::string("a\0b", 3)) == CUDA_ERROR_INVALID_VALUE);  // two names
  CHECK(refused({}, {}, ptx, Words(Sha256("never uploaded")), "a") == CUDA_ERROR_INVALID_VALUE);
  const std::size_t many = protocol::kMaxLinkInputs + 1;
  u64s many_words;
  for (std::size_t i = 0; i < many; ++i) many_words.insert(many_words.end(), words.begin(), words.end());
  CHECK(refused({}, {}, i32s(many, CU_JIT_INPUT_PTX), many_words, std::string(many - 1, '\0')) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::DriverGetVersion>({}) == CUDA_SUCCESS);
}

TEST_CASE("module and library loads with JIT options: logs empty on the emulated device, pointers refused") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::string hash = Upload(c, std::string(kPtx) + '\0');
  auto loaded = c.Call<Op::ModuleLoadDataEx>({hash, kLogCodes, kLogValues});
  REQUIRE(loaded.result == CUDA_SUCCESS);
  CHECK(std::get<0>(loaded.fields) == CUDA_SUCCESS);
  CHECK(std::get<2>(loaded.fields) == u64s{0, 0, 0});
  CHECK(std::get<3>(loaded.fields).empty());
  CHECK(std::get<4>(loaded.fields).empty());
  CHECK(c.Result<Op::ModuleGetFunction>({std::get<1>(loaded.fields), "k_linked"}) == CUDA_SUCCESS);
  auto library = c.Call<Op::LibraryLoadDataEx>({hash, kLogCodes, kLogValues});
  REQUIRE(library.result == CUDA_SUCCESS);
  CHECK(std::get<0>(library.fields) == CUDA_SUCCESS);
  CHECK(c.Result<Op::LibraryGetKernel>({std::get<1>(library.fields), "k_linked"}) == CUDA_SUCCESS);

  CHECK(c.Result<Op::ModuleLoadDataEx>({hash, {CU_JIT_ERROR_LOG_BUFFER}, {0x1000}}) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::LibraryLoadDataEx>({hash, {CU_JIT_INFO_LOG_BUFFER}, {0x1000}}) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::ModuleLoadDataEx>({hash, {CU_JIT_MAX_REGISTERS}, {}}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::ModuleLoadDataEx>({Sha256("never uploaded"), {}, {}}) == CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace gpupool::testing
