// CUresult names and descriptions (the client's cuGetErrorName and cuGetErrorString, the server's
// gpupool_call_errors_total{code}), from cuda_errors.def. CUresult travels as a u32 here (no CUDA
// headers in the protocol library).
//
// Thread-safety: pure functions over a constant table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpupool::protocol {

// How many CUresult values the table has.
inline constexpr std::size_t kResultCount = 0
#define GPUPOOL_CU_ERROR(name, value, description) +1
#include "remoting/protocol/cuda_errors.def"
#undef GPUPOOL_CU_ERROR
    ;

// "CUDA_ERROR_INVALID_VALUE", or nullptr for a value that is not a CUresult.
const char* ResultName(std::uint32_t result);
// "invalid argument", or nullptr for a value that is not a CUresult.
const char* ResultString(std::uint32_t result);
// The value's position in the table (0 .. kResultCount - 1), kResultCount when it is not a CUresult:
// a dense index for counters kept per result.
std::size_t ResultIndex(std::uint32_t result);
// The CUresult at a position of the table (index < kResultCount).
std::uint32_t ResultAt(std::size_t index);

}  // namespace gpupool::protocol
