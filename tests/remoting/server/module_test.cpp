// Images, modules, globals and launches through the server (emulated device, a PTX module): the
// image cache by hash, completeness checks, parameter layouts from the driver, launches recorded
// with their exact parameter bytes, and what unloading a module invalidates.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/remoting/server/image_upload.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

const char* const kPtx =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .global .u32 g_counter;\n"
    ".visible .entry k_add(.param .u64 p, .param .u32 n)\n{\n  ret;\n}\n";

TEST_CASE("a PTX module: upload by hash, layout, launch recorded, globals, unload") {
  TempDir dir;
  std::string record = dir.File("launches.jsonl");
  ServerProcess server = ServerProcess::Start({"--record-launches", record});
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  std::string image = std::string(kPtx) + '\0';
  CHECK(std::get<0>(c.Call<Op::ImageQuery>({Sha256(image)}).fields) == 0);
  std::string hash = Upload(c, image);
  CHECK(std::get<0>(c.Call<Op::ImageQuery>({hash}).fields) == 1);

  auto module = c.Call<Op::ModuleLoadData>({hash});
  REQUIRE(module.result == CUDA_SUCCESS);
  std::uint64_t m = std::get<0>(module.fields);
  auto function = c.Call<Op::ModuleGetFunction>({m, "k_add"});
  REQUIRE(function.result == CUDA_SUCCESS);
  std::uint64_t f = std::get<0>(function.fields);
  CHECK(c.Result<Op::ModuleGetFunction>({m, "nope"}) == CUDA_ERROR_NOT_FOUND);
  auto layout = c.Call<Op::FuncGetParamLayout>({f});
  REQUIRE(layout.result == CUDA_SUCCESS);
  CHECK(std::get<0>(layout.fields) == protocol::u64s{0, 8});
  CHECK(std::get<1>(layout.fields) == protocol::u64s{8, 4});

  std::string params = "\x01\x02\x03\x04\x05\x06\x07\x08\xaa\xbb\xcc\xdd";
  c.Call<Op::LaunchKernel>({f, 2, 1, 1, 64, 1, 1, 0, 0}, params);
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  std::ifstream in(record);
  std::stringstream lines;
  lines << in.rdbuf();
  CHECK(lines.str().find("\"kernel\":\"k_add\"") != std::string::npos);
  CHECK(lines.str().find("\"params\":\"0102030405060708aabbccdd\"") != std::string::npos);

  // Fewer parameter bytes than the kernel declares, as a launch through `extra` may pass (NCCL does):
  // accepted, the rest zero.
  c.Call<Op::LaunchKernel>({f, 1, 1, 1, 1, 1, 1, 0, 0}, params.substr(0, 4));
  CHECK(c.Result<Op::StreamSynchronize>({0}) == CUDA_SUCCESS);
  std::ifstream again(record);
  std::stringstream all;
  all << again.rdbuf();
  CHECK(all.str().find("\"params\":\"010203040000000000000000\"") != std::string::npos);
  // Launch errors are latched: more parameter bytes than any kernel may have, an unknown function.
  c.Call<Op::LaunchKernel>({f, 1, 1, 1, 1, 1, 1, 0, 0}, std::string(protocol::kMaxKernelParamBytes + 1, 'x'));
  CHECK(c.Result<Op::StreamSynchronize>({0}) == CUDA_ERROR_INVALID_VALUE);
  c.Call<Op::LaunchKernel>({0x4242, 1, 1, 1, 1, 1, 1, 0, 0}, params);
  CHECK(c.Result<Op::StreamSynchronize>({0}) == CUDA_ERROR_INVALID_HANDLE);

  auto global = c.Call<Op::ModuleGetGlobal>({m, "g_counter"});
  REQUIRE(global.result == CUDA_SUCCESS);
  auto [g, g_size] = global.fields;
  CHECK(g_size == 4);
  CHECK(c.Result<Op::MemcpyHtoD>({g}, "\x11\x22\x33\x44") == CUDA_SUCCESS);
  CHECK(c.Call<Op::MemcpyDtoH>({g, 4}).tail == "\x11\x22\x33\x44");
  CHECK(c.Result<Op::MemcpyDtoH>({g, 8}) == CUDA_ERROR_INVALID_VALUE);  // past the global
  CHECK(c.Result<Op::MemFree>({g}) == CUDA_ERROR_INVALID_VALUE);        // not the session's to free

  CHECK(c.Result<Op::ModuleUnload>({m}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::FuncGetName>({f}) == CUDA_ERROR_INVALID_HANDLE);  // died with its module
  CHECK(c.Result<Op::MemcpyDtoH>({g, 4}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::ModuleUnload>({m}) == CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("a library's __managed__ variable: its address and size, copies checked against it, bad handles") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  auto library = c.Call<Op::LibraryLoadData>({Upload(c, std::string(kPtx) + '\0')});
  REQUIRE(library.result == CUDA_SUCCESS);
  const std::uint64_t l = std::get<0>(library.fields);
  // The emulated device keeps a managed variable as a global of the module.
  auto variable = c.Call<Op::LibraryGetManaged>({l, "g_counter"});
  REQUIRE(variable.result == CUDA_SUCCESS);
  auto [v, v_size] = variable.fields;
  CHECK(v_size == 4);
  CHECK(c.Result<Op::MemcpyHtoD>({v}, "\x01\x02\x03\x04") == CUDA_SUCCESS);
  CHECK(c.Call<Op::MemcpyDtoH>({v, 4}).tail == "\x01\x02\x03\x04");
  CHECK(c.Result<Op::MemcpyDtoH>({v, 8}) == CUDA_ERROR_INVALID_VALUE);  // past the variable
  CHECK(c.Result<Op::MemFree>({v}) == CUDA_ERROR_INVALID_VALUE);        // the module's, not the session's
  CHECK(c.Result<Op::LibraryGetManaged>({l, "no_such_variable"}) == CUDA_ERROR_NOT_FOUND);
  CHECK(c.Result<Op::LibraryGetManaged>({l + 1000, "g_counter"}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::LibraryUnload>({l}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::LibraryGetManaged>({l, "g_counter"}) == CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("bad images: wrong hash, chunks out of order, unknown hash, incomplete or wrapper images") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  std::string image = std::string(kPtx) + '\0';

  c.Call<Op::ImageUpload>({Sha256("something else"), image.size(), 0}, image);
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_ERROR_INVALID_IMAGE);
  CHECK(std::get<0>(c.Call<Op::ImageQuery>({Sha256("something else")}).fields) == 0);

  c.Call<Op::ImageUpload>({Sha256(image), image.size(), 5}, image.substr(5));  // first chunk missing
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_ERROR_INVALID_VALUE);
  c.Call<Op::ImageUpload>({"short hash", image.size(), 0}, image);
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_ERROR_INVALID_VALUE);

  CHECK(c.Result<Op::ModuleLoadData>({Sha256("never uploaded")}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::LibraryLoadData>({Sha256("never uploaded")}) == CUDA_ERROR_INVALID_VALUE);

  std::string wrapper(24, '\0');
  std::uint32_t magic = 0x466243b1;  // a fatbin wrapper holds a pointer into the client: refused
  std::memcpy(wrapper.data(), &magic, 4);
  CHECK(c.Result<Op::ModuleLoadData>({Upload(c, wrapper)}) == CUDA_ERROR_INVALID_IMAGE);
  std::string elf = std::string(
                        "\x7f"
                        "ELF\x02",
                        5) +
                    std::string(59, '\0');
  elf[0x3c] = 3;  // three section headers that are not there
  elf[0x3a] = 64;
  elf[0x28] = 64;
  CHECK(c.Result<Op::ModuleLoadData>({Upload(c, elf)}) == CUDA_ERROR_INVALID_IMAGE);
}

}  // namespace
}  // namespace gpupool::testing
