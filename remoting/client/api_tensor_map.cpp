// Tensor maps: cuTensorMapEncodeTiled and cuTensorMapReplaceAddress run on the server's driver (the
// global address is a server device pointer); the 128-byte CUtensorMap comes back here, where the
// program passes it by value as a kernel parameter like any other bytes. The im2col encoders are not
// forwarded yet (unsupported.def).
#include <cstring>

#include "remoting/client/api_support.h"

using namespace gpupool::client;

namespace {

constexpr cuuint32_t kMaxRank = 5;

bool Aligned(const CUtensorMap* map) {
  return map != nullptr && reinterpret_cast<std::uintptr_t>(map) % 64 == 0;
}

CUresult TakeMap(const std::string& raw, CUtensorMap* map) {
  if (raw.size() != sizeof *map) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(static_cast<void*>(map), raw.data(), sizeof *map);
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuTensorMapEncodeTiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank,
                                            void* address, const cuuint64_t* dims, const cuuint64_t* strides,
                                            const cuuint32_t* box, const cuuint32_t* element_strides,
                                            CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
                                            CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oob) {
  if (!Aligned(map) || rank == 0 || rank > kMaxRank || dims == nullptr || box == nullptr ||
      element_strides == nullptr || (rank > 1 && strides == nullptr))
    return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::u64s d(dims, dims + rank), b(box, box + rank), e(element_strides, element_strides + rank);
  protocol::u64s s(strides, strides + (rank - 1));
  protocol::Call<Op::TensorMapEncodeTiled>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::TensorMapEncodeTiled>(
      context,
      {static_cast<std::uint32_t>(type), rank, reinterpret_cast<std::uint64_t>(address), d, s, b, e,
       static_cast<std::uint32_t>(interleave), static_cast<std::uint32_t>(swizzle),
       static_cast<std::uint32_t>(l2), static_cast<std::uint32_t>(oob)},
      &reply));
  return TakeMap(std::get<0>(reply), map);
}

GPUPOOL_API CUresult cuTensorMapReplaceAddress(CUtensorMap* map, void* address) {
  if (!Aligned(map)) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  std::string raw(reinterpret_cast<const char*>(map), sizeof *map);
  protocol::Call<Op::TensorMapReplaceAddress>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::TensorMapReplaceAddress>(context, {raw, reinterpret_cast<std::uint64_t>(address)}, &reply));
  return TakeMap(std::get<0>(reply), map);
}
