// The CUresult table: names, descriptions and values as cuda.h has them, and its dense index.
#include "remoting/protocol/result_names.h"

#include <cuda.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>

namespace gpupool::protocol {
namespace {

TEST_CASE("result names and strings match cuda.h's CUresult values") {
  struct Case {
    CUresult value;
    const char* name;
    const char* text;
  };
  const Case cases[] = {
      {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
      {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
      {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
      {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
      {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
      {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    REQUIRE(ResultName(c.value) != nullptr);
    CHECK(std::string(ResultName(c.value)) == c.name);
    CHECK(std::string(ResultString(c.value)) == c.text);
    REQUIRE(ResultIndex(c.value) < kResultCount);
    CHECK(ResultAt(ResultIndex(c.value)) == static_cast<std::uint32_t>(c.value));
  }
}

TEST_CASE("values that are not a CUresult have no name and no index") {
  CHECK(ResultName(12345) == nullptr);
  CHECK(ResultString(static_cast<std::uint32_t>(-1)) == nullptr);
  CHECK(ResultIndex(12345) == kResultCount);
}

TEST_CASE("the index is dense and one-to-one") {
  std::set<std::uint32_t> values;
  for (std::size_t i = 0; i < kResultCount; ++i) {
    values.insert(ResultAt(i));
    CHECK(ResultIndex(ResultAt(i)) == i);
  }
  CHECK(values.size() == kResultCount);
}

}  // namespace
}  // namespace gpupool::protocol
