// TensorMapElementBits: the bits per element of a CUtensorMapDataType, by its number in cuda.h's
// enum (0 UINT8, 1 UINT16, 2 UINT32, 3 INT32, 4 UINT64, 5 INT64, 6 FLOAT16, 7 FLOAT32, 8 FLOAT64,
// 9 BFLOAT16, 10 FLOAT32_FTZ, 11 TFLOAT32, 12 TFLOAT32_FTZ, 13 16U4_ALIGN8B, 14 16U4_ALIGN16B,
// 15 16U6_ALIGN16B). The worker sizes a tensor with it and the emulated device checks box widths;
// common/ has no CUDA headers, hence the numbers. 0 for a number outside the enum.
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>

namespace gpupool {

constexpr int TensorMapElementBits(std::uint32_t type) {
  constexpr int kBits[] = {8, 16, 32, 32, 64, 64, 16, 32, 64, 16, 32, 32, 32, 4, 4, 6};
  return type < sizeof kBits / sizeof kBits[0] ? kBits[type] : 0;
}

}  // namespace gpupool
