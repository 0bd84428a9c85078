#include "common/status.h"

#include <catch2/catch.hpp>

namespace gpupool {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument(std::to_string(v) + " is odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  GPUPOOL_ASSIGN_OR_RETURN(int h, Half(v));
  return Half(h);
}

Status CheckEven(int v) {
  GPUPOOL_RETURN_IF_ERROR(Half(v).status());
  return Status::Ok();
}

}  // namespace

TEST_CASE("Result carries a value or the error that stopped it", "[status]") {
  CHECK(*Quarter(8) == 2);
  auto r = Quarter(6);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().ToString() == "InvalidArgument: 3 is odd");
  CHECK(CheckEven(4).ok());
  CHECK(CheckEven(5).code() == Code::kInvalidArgument);
}

TEST_CASE("Annotate adds context and keeps the code", "[status]") {
  Status s = Status::NotFound("pool \"x\"").Annotate("binding pod");
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.ToString() == "NotFound: binding pod: pool \"x\"");
  CHECK(Status::Ok().Annotate("ignored").ok());
}

TEST_CASE("A Result built from an OK status is an internal error, not a value", "[status]") {
  Result<int> r{Status::Ok()};
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInternal);
}

}  // namespace gpupool
