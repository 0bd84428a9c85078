// Tensor maps through the server on the emulated device: a valid tiled encoding comes back as 128
// deterministic bytes, each requirement cuda.h documents fails with CUDA_ERROR_INVALID_VALUE, tensors
// outside the session's memory are refused, and ReplaceAddress re-encodes with the new address.
#include <catch2/catch.hpp>
#include <functional>

#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;
using Request = protocol::Call<Op::TensorMapEncodeTiled>::Request;

// A 2D float tensor of 64 x 32 elements (rows 256 bytes apart), boxes of 32 x 8: valid.
Request Tiled(std::uint64_t address) {
  return {CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
          2u,
          address,
          {64, 32},
          {256},
          {32, 8},
          {1, 1},
          CU_TENSOR_MAP_INTERLEAVE_NONE,
          CU_TENSOR_MAP_SWIZZLE_128B,
          CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
          CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE};
}

TEST_CASE("tensor maps: encode, the documented invalid cases, replace address") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  auto alloc = c.Call<Op::MemAlloc>({16384});
  auto other = c.Call<Op::MemAlloc>({16384});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  REQUIRE(other.result == CUDA_SUCCESS);
  const std::uint64_t ptr = std::get<0>(alloc.fields), ptr2 = std::get<0>(other.fields);

  auto first = c.Call<Op::TensorMapEncodeTiled>(Tiled(ptr));
  REQUIRE(first.result == CUDA_SUCCESS);
  const std::string map = std::get<0>(first.fields);
  CHECK(map.size() == sizeof(CUtensorMap));
  CHECK(std::get<0>(c.Call<Op::TensorMapEncodeTiled>(Tiled(ptr)).fields) == map);  // deterministic

  struct Case {
    const char* what;
    std::function<void(Request&)> change;
    CUresult error;
  };
  const std::vector<Case> cases = {
      {"rank 0", [](Request& r) { std::get<1>(r) = 0; }, CUDA_ERROR_INVALID_VALUE},
      {"rank 6", [](Request& r) { std::get<1>(r) = 6; }, CUDA_ERROR_INVALID_VALUE},
      {"arrays shorter than the rank", [](Request& r) { std::get<5>(r) = {32}; }, CUDA_ERROR_INVALID_VALUE},
      {"unknown data type", [](Request& r) { std::get<0>(r) = 99; }, CUDA_ERROR_INVALID_VALUE},
      {"address not 16-byte aligned", [](Request& r) { std::get<2>(r) += 8; }, CUDA_ERROR_INVALID_VALUE},
      {"zero dimension", [](Request& r) { std::get<3>(r)[1] = 0; }, CUDA_ERROR_INVALID_VALUE},
      {"stride not a multiple of 16", [](Request& r) { std::get<4>(r)[0] = 264; }, CUDA_ERROR_INVALID_VALUE},
      {"box of 0", [](Request& r) { std::get<5>(r)[1] = 0; }, CUDA_ERROR_INVALID_VALUE},
      {"box over 256", [](Request& r) { std::get<5>(r)[1] = 257; }, CUDA_ERROR_INVALID_VALUE},
      {"inner box not a multiple of 16 bytes", [](Request& r) { std::get<5>(r)[0] = 6; },
       CUDA_ERROR_INVALID_VALUE},
      {"inner box wider than the swizzle", [](Request& r) { std::get<8>(r) = CU_TENSOR_MAP_SWIZZLE_64B; },
       CUDA_ERROR_INVALID_VALUE},
      {"element stride 9", [](Request& r) { std::get<6>(r)[1] = 9; }, CUDA_ERROR_INVALID_VALUE},
      {"element stride 0", [](Request& r) { std::get<6>(r)[1] = 0; }, CUDA_ERROR_INVALID_VALUE},
      {"interleave with rank 2", [](Request& r) { std::get<7>(r) = CU_TENSOR_MAP_INTERLEAVE_16B; },
       CUDA_ERROR_INVALID_VALUE},
      {"unknown swizzle", [](Request& r) { std::get<8>(r) = 42; }, CUDA_ERROR_INVALID_VALUE},
      {"unknown L2 promotion", [](Request& r) { std::get<9>(r) = 7; }, CUDA_ERROR_INVALID_VALUE},
      {"NaN fill for an integer type",
       [](Request& r) {
         std::get<0>(r) = CU_TENSOR_MAP_DATA_TYPE_INT32;
         std::get<10>(r) = CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA;
       },
       CUDA_ERROR_INVALID_VALUE},
      {"a tensor past its allocation", [](Request& r) { std::get<3>(r)[1] = 65; }, CUDA_ERROR_INVALID_VALUE},
      {"not the session's memory", [](Request& r) { std::get<2>(r) = 0x10000; }, CUDA_ERROR_INVALID_VALUE},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Request r = Tiled(ptr);
    k.change(r);
    CHECK(c.Result<Op::TensorMapEncodeTiled>(r) == static_cast<std::uint32_t>(k.error));
  }
  Request nan_float = Tiled(ptr);
  std::get<10>(nan_float) = CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA;
  CHECK(c.Result<Op::TensorMapEncodeTiled>(nan_float) == CUDA_SUCCESS);

  // Replacing the address gives the encoding of the same tensor at the new address.
  auto replaced = c.Call<Op::TensorMapReplaceAddress>({map, ptr2});
  REQUIRE(replaced.result == CUDA_SUCCESS);
  CHECK(std::get<0>(replaced.fields) == std::get<0>(c.Call<Op::TensorMapEncodeTiled>(Tiled(ptr2)).fields));
  CHECK(std::get<0>(replaced.fields) != map);
  CHECK(c.Result<Op::TensorMapReplaceAddress>({map, ptr2 + 8}) == CUDA_ERROR_INVALID_VALUE);  // misaligned
  CHECK(c.Result<Op::TensorMapReplaceAddress>({map, 0x10000}) == CUDA_ERROR_INVALID_VALUE);   // not ours
  CHECK(c.Result<Op::TensorMapReplaceAddress>({map.substr(1), ptr2}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::TensorMapReplaceAddress>({std::string(128, '\0'), ptr2}) == CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace gpupool::testing
