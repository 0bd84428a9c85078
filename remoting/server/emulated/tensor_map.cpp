// Tensor maps (TMA descriptors): cuTensorMapEncodeTiled checks every requirement cuda.h documents
// and answers CUDA_ERROR_INVALID_VALUE where one fails; the 128 bytes it produces are this device's
// own deterministic encoding of the arguments (a real driver's are opaque), which
// cuTensorMapReplaceAddress decodes, re-checks with the new address and encodes again.
#include <cstring>

#include "common/tensor_map_bits.h"
#include "remoting/server/emulated/api.h"

namespace gpupool::server::emulated {
namespace {

constexpr std::uint32_t kMagic = 0x4d545047;  // "GPTM"
constexpr int kMaxRank = 5;

// The encoding, 122 of the 128 bytes.
struct Encoded {
  std::uint32_t magic, type, rank, interleave, swizzle, l2, oob, reserved;
  std::uint64_t address;
  std::uint64_t dims[kMaxRank];
  std::uint64_t strides[kMaxRank - 1];
  std::uint8_t box_minus_one[kMaxRank];
  std::uint8_t element_strides[kMaxRank];
};
static_assert(sizeof(Encoded) <= sizeof(CUtensorMap));

bool Packed16(std::uint32_t type) {
  return type == CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN16B || type == CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B;
}

bool FloatType(std::uint32_t type) {
  switch (type) {
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT16:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT32:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT64:
    case CU_TENSOR_MAP_DATA_TYPE_BFLOAT16:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT32_FTZ:
    case CU_TENSOR_MAP_DATA_TYPE_TFLOAT32:
    case CU_TENSOR_MAP_DATA_TYPE_TFLOAT32_FTZ: return true;
    default: return false;
  }
}

// cuda.h's requirements for cuTensorMapEncodeTiled, in its order.
bool Valid(const Encoded& e) {
  if (e.type > CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B || e.interleave > CU_TENSOR_MAP_INTERLEAVE_32B ||
      e.swizzle > CU_TENSOR_MAP_SWIZZLE_128B_ATOM_64B || e.l2 > CU_TENSOR_MAP_L2_PROMOTION_L2_256B ||
      e.oob > CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA)
    return false;
  const bool interleaved = e.interleave != CU_TENSOR_MAP_INTERLEAVE_NONE;
  if (e.rank == 0 || e.rank > kMaxRank || (interleaved && e.rank < 3)) return false;
  const bool wide_align = e.interleave == CU_TENSOR_MAP_INTERLEAVE_32B || Packed16(e.type);
  if (e.address % (wide_align ? 32 : 16) != 0) return false;
  for (std::uint32_t i = 0; i < e.rank; ++i) {
    if (e.dims[i] == 0 || e.dims[i] > (1ull << 32)) return false;
  }
  if (Packed16(e.type) && e.dims[0] % 128 != 0) return false;
  if (e.type == CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN8B && e.dims[0] % 2 != 0) return false;
  for (std::uint32_t i = 0; i + 1 < e.rank; ++i) {
    if (e.strides[i] % (wide_align ? 32 : 16) != 0 || e.strides[i] >= (1ull << 40)) return false;
  }
  const int bits = gpupool::TensorMapElementBits(e.type);
  const std::uint64_t inner_bytes = (static_cast<std::uint64_t>(e.box_minus_one[0]) + 1) * bits / 8;
  if (!interleaved && inner_bytes % 16 != 0) return false;
  if (Packed16(e.type) && e.box_minus_one[0] + 1 != 128) return false;
  for (std::uint32_t i = 0; i < e.rank; ++i) {
    if (e.element_strides[i] == 0 || e.element_strides[i] > 8) return false;
  }
  if (!interleaved && e.swizzle != CU_TENSOR_MAP_SWIZZLE_NONE) {
    const std::uint64_t span = e.swizzle == CU_TENSOR_MAP_SWIZZLE_32B   ? 32
                               : e.swizzle == CU_TENSOR_MAP_SWIZZLE_64B ? 64
                                                                        : 128;
    if (inner_bytes > span) return false;
  }
  if (e.type == CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B && interleaved) return false;
  if (e.interleave == CU_TENSOR_MAP_INTERLEAVE_32B && e.swizzle != CU_TENSOR_MAP_SWIZZLE_32B) return false;
  if (Packed16(e.type) && e.swizzle != CU_TENSOR_MAP_SWIZZLE_NONE &&
      e.swizzle != CU_TENSOR_MAP_SWIZZLE_128B && e.swizzle != CU_TENSOR_MAP_SWIZZLE_128B_ATOM_32B &&
      !(e.type == CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B && e.swizzle == CU_TENSOR_MAP_SWIZZLE_128B_ATOM_64B))
    return false;
  if (e.oob == CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA && !FloatType(e.type)) return false;
  return true;
}

CUresult Store(const Encoded& e, CUtensorMap* map) {
  if (!Valid(e)) return CUDA_ERROR_INVALID_VALUE;
  std::memset(map, 0, sizeof *map);
  std::memcpy(map, &e, sizeof e);
  return CUDA_SUCCESS;
}

CUresult EncodeTiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank, void* address,
                     const cuuint64_t* dims, const cuuint64_t* strides, const cuuint32_t* box,
                     const cuuint32_t* element_strides, CUtensorMapInterleave interleave,
                     CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oob) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (map == nullptr || reinterpret_cast<std::uintptr_t>(map) % 64 != 0 || rank == 0 || rank > kMaxRank ||
      dims == nullptr || box == nullptr || element_strides == nullptr || (rank > 1 && strides == nullptr))
    return CUDA_ERROR_INVALID_VALUE;
  Encoded e{};
  e.magic = kMagic;
  e.type = static_cast<std::uint32_t>(type);
  e.rank = rank;
  e.interleave = static_cast<std::uint32_t>(interleave);
  e.swizzle = static_cast<std::uint32_t>(swizzle);
  e.l2 = static_cast<std::uint32_t>(l2);
  e.oob = static_cast<std::uint32_t>(oob);
  e.address = reinterpret_cast<std::uint64_t>(address);
  for (cuuint32_t i = 0; i < rank; ++i) {
    if (box[i] == 0 || box[i] > 256) return CUDA_ERROR_INVALID_VALUE;
    e.dims[i] = dims[i];
    e.box_minus_one[i] = static_cast<std::uint8_t>(box[i] - 1);
    if (element_strides[i] > 8) return CUDA_ERROR_INVALID_VALUE;
    e.element_strides[i] = static_cast<std::uint8_t>(element_strides[i]);
    if (i + 1 < rank) e.strides[i] = strides[i];
  }
  return Store(e, map);
}

CUresult ReplaceAddress(CUtensorMap* map, void* address) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (map == nullptr || reinterpret_cast<std::uintptr_t>(map) % 64 != 0) return CUDA_ERROR_INVALID_VALUE;
  Encoded e{};
  std::memcpy(&e, map, sizeof e);
  if (e.magic != kMagic) return CUDA_ERROR_INVALID_VALUE;  // not a map this device encoded
  e.address = reinterpret_cast<std::uint64_t>(address);
  return Store(e, map);
}

}  // namespace

void FillTensorMapApi(DriverApi& api) {
  api.cuTensorMapEncodeTiled = EncodeTiled;
  api.cuTensorMapReplaceAddress = ReplaceAddress;
}

}  // namespace gpupool::server::emulated
