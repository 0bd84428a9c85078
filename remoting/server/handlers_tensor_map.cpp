// Handlers: tensor maps (TMA descriptors that cuBLAS, CUTLASS and Triton encode on Hopper and pass by
// value to kernels). The driver encodes them; every byte the described tensor spans, and a replaced
// address, must lie in the session's memory. The 128 bytes go back to the client as they are.
#include <cstring>

#include "common/tensor_map_bits.h"
#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

constexpr std::uint32_t kMaxRank = 5;

// The bytes from the tensor's first element to just past its last: (dim - 1) * stride summed over the
// outer dimensions, plus the innermost row. False on overflow.
bool Extent(std::uint32_t type, const protocol::u64s& dims, const protocol::u64s& strides,
            std::uint64_t* bytes) {
  std::uint64_t row = 0, total = 0;
  if (__builtin_mul_overflow(dims[0], gpupool::TensorMapElementBits(type), &row)) return false;
  total = (row + 7) / 8;
  for (std::size_t i = 1; i < dims.size(); ++i) {
    std::uint64_t span = 0;
    if (dims[i] == 0 || __builtin_mul_overflow(dims[i] - 1, strides[i - 1], &span) ||
        __builtin_add_overflow(total, span, &total))
      return false;
  }
  *bytes = total;
  return true;
}

}  // namespace

GPUPOOL_HANDLER(TensorMapEncodeTiled) {
  const auto& [type, rank, address, dims, strides, box, element_strides, interleave, swizzle, l2, oob] = in;
  if (rank == 0 || rank > kMaxRank || dims.size() != rank || strides.size() != rank - 1 ||
      box.size() != rank || element_strides.size() != rank)
    return CUDA_ERROR_INVALID_VALUE;
  CUtensorMapDataType t{};
  CUtensorMapInterleave il{};
  CUtensorMapSwizzle sw{};
  CUtensorMapL2promotion promotion{};
  CUtensorMapFloatOOBfill fill{};
  if (CUresult r = ClientEnum(type, 0, CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B + 1, &t); r != CUDA_SUCCESS)
    return r;
  if (CUresult r = ClientEnum(interleave, 0, CU_TENSOR_MAP_INTERLEAVE_32B + 1, &il); r != CUDA_SUCCESS)
    return r;
  if (CUresult r = ClientEnum(swizzle, 0, CU_TENSOR_MAP_SWIZZLE_128B_ATOM_64B + 1, &sw); r != CUDA_SUCCESS)
    return r;
  if (CUresult r = ClientEnum(l2, 0, CU_TENSOR_MAP_L2_PROMOTION_L2_256B + 1, &promotion); r != CUDA_SUCCESS)
    return r;
  if (CUresult r = ClientEnum(oob, 0, CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA + 1, &fill);
      r != CUDA_SUCCESS)
    return r;
  std::uint64_t extent = 0;
  if (!Extent(type, dims, strides, &extent)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = s.CheckRange(address, extent); r != CUDA_SUCCESS) return r;
  cuuint32_t box32[kMaxRank] = {}, element32[kMaxRank] = {};
  for (std::uint32_t i = 0; i < rank; ++i) {
    if (box[i] > UINT32_MAX || element_strides[i] > UINT32_MAX) return CUDA_ERROR_INVALID_VALUE;
    box32[i] = static_cast<cuuint32_t>(box[i]);
    element32[i] = static_cast<cuuint32_t>(element_strides[i]);
  }
  CUtensorMap map{};
  CUresult r =
      GPUPOOL_DRIVER(s, cuTensorMapEncodeTiled, &map, t, rank, reinterpret_cast<void*>(address), dims.data(),
                     strides.empty() ? nullptr : strides.data(), box32, element32, il, sw, promotion, fill);
  if (r == CUDA_SUCCESS) std::get<0>(*out).assign(reinterpret_cast<const char*>(&map), sizeof map);
  return r;
}

GPUPOOL_HANDLER(TensorMapReplaceAddress) {
  const auto& [raw, address] = in;
  if (raw.size() != sizeof(CUtensorMap)) return CUDA_ERROR_INVALID_VALUE;
  // The driver's encoding is opaque, so only the new start is checked here; a kernel that goes past
  // the session's memory through it faults in the session's own context.
  if (CUresult r = s.CheckRange(address, 1); r != CUDA_SUCCESS) return r;
  CUtensorMap map{};
  std::memcpy(&map, raw.data(), sizeof map);
  CUresult r = GPUPOOL_DRIVER(s, cuTensorMapReplaceAddress, &map, reinterpret_cast<void*>(address));
  if (r == CUDA_SUCCESS) std::get<0>(*out).assign(reinterpret_cast<const char*>(&map), sizeof map);
  return r;
}

}  // namespace gpupool::server
