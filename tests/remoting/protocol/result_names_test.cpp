#include "remoting/client/error_names.h"

#include <catch2/catch.hpp>
#include <string>

namespace gpupool::client {
namespace {

TEST_CASE("error names and strings match cuda.h's CUresult values") {
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
    REQUIRE(ErrorName(c.value) != nullptr);
    CHECK(std::string(ErrorName(c.value)) == c.name);
    CHECK(std::string(ErrorString(c.value)) == c.text);
  }
}

TEST_CASE("values that are not a CUresult have no name") {
  CHECK(ErrorName(static_cast<CUresult>(12345)) == nullptr);
  CHECK(ErrorString(static_cast<CUresult>(-1)) == nullptr);
}

}  // namespace
}  // namespace gpupool::client
