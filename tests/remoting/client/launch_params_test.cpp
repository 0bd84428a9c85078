#include "remoting/client/launch_params.h"

#include <catch2/catch.hpp>
#include <cstring>

namespace gpupool::client {
namespace {

TEST_CASE("kernelParams are packed at the layout's offsets") {
  // (char, double, int3-ish 12-byte struct, pointer) as nvcc lays them out.
  const std::vector<std::uint64_t> offsets = {0, 8, 16, 32};
  const std::vector<std::uint64_t> sizes = {1, 8, 12, 8};
  char c = 'x';
  double d = 2.5;
  int s[3] = {1, 2, 3};
  unsigned long long p = 0x200000001000ull;
  void* params[] = {&c, &d, s, &p};
  std::string packed;
  REQUIRE(PackParams(offsets, sizes, params, nullptr, &packed) == CUDA_SUCCESS);
  REQUIRE(packed.size() == 40);
  CHECK(packed[0] == 'x');
  CHECK(std::memcmp(packed.data() + 8, &d, 8) == 0);
  CHECK(std::memcmp(packed.data() + 16, s, 12) == 0);
  CHECK(std::memcmp(packed.data() + 32, &p, 8) == 0);
  CHECK(packed.substr(1, 7) == std::string(7, '\0'));  // padding is zeroed, not garbage
}

TEST_CASE("the extra form passes the program's buffer through") {
  char buffer[24] = {1, 2, 3};
  std::size_t size = sizeof buffer;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   CU_LAUNCH_PARAM_END};
  std::string packed;
  REQUIRE(PackParams({0}, {4}, nullptr, extra, &packed) == CUDA_SUCCESS);
  CHECK(packed == std::string(buffer, sizeof buffer));
}

TEST_CASE("the largest parameter block is accepted, one byte more is not") {
  std::vector<char> big(32764, 'a');
  void* params[] = {big.data()};
  std::string packed;
  CHECK(PackParams({0}, {32764}, params, nullptr, &packed) == CUDA_SUCCESS);
  CHECK(packed.size() == 32764);
  CHECK(PackParams({4}, {32764}, params, nullptr, &packed) == CUDA_ERROR_INVALID_VALUE);
  std::size_t size = 32765;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, big.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   CU_LAUNCH_PARAM_END};
  CHECK(PackParams({}, {}, nullptr, extra, &packed) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("malformed parameter forms are CUDA_ERROR_INVALID_VALUE") {
  int v = 1;
  void* params[] = {&v};
  void* end[] = {CU_LAUNCH_PARAM_END};
  void* unknown[] = {reinterpret_cast<void*>(0x77), &v, CU_LAUNCH_PARAM_END};
  void* no_size[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &v, CU_LAUNCH_PARAM_END};
  std::string packed;
  CHECK(PackParams({0}, {4}, params, end, &packed) == CUDA_ERROR_INVALID_VALUE);       // both forms
  CHECK(PackParams({0}, {4}, nullptr, nullptr, &packed) == CUDA_ERROR_INVALID_VALUE);  // neither
  CHECK(PackParams({0}, {4}, nullptr, unknown, &packed) == CUDA_ERROR_INVALID_VALUE);
  CHECK(PackParams({0}, {4}, nullptr, no_size, &packed) == CUDA_ERROR_INVALID_VALUE);
  void* null_param[] = {nullptr};
  CHECK(PackParams({0}, {4}, null_param, nullptr, &packed) == CUDA_ERROR_INVALID_VALUE);
  CHECK(PackParams({}, {}, nullptr, nullptr, &packed) == CUDA_SUCCESS);  // no parameters at all
  CHECK(packed.empty());
}

}  // namespace
}  // namespace gpupool::client
