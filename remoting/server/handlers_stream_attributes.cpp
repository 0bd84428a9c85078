// Handlers: stream attributes (access policy window, synchronisation policy, priority, memory
// synchronisation domain). Values travel as the CUstreamAttrValue's 64 bytes; the attribute id is
// checked before it becomes an enum, and an access policy window must lie in the session's memory.
#include <cstring>

#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

// The attribute ids CUDA documents as valid for streams.
CUresult StreamAttribute(std::int32_t id, CUstreamAttrID* out) {
  switch (id) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_STREAM_ATTRIBUTE_PRIORITY:
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
      *out = static_cast<CUstreamAttrID>(id);
      return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace

GPUPOOL_HANDLER(StreamGetAttribute) {
  const auto& [stream_id, attribute] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  CUstreamAttrID id{};
  if (CUresult r = StreamAttribute(attribute, &id); r != CUDA_SUCCESS) return r;
  CUstreamAttrValue value{};
  CUresult r = GPUPOOL_DRIVER(s, cuStreamGetAttribute, stream, id, &value);
  if (r == CUDA_SUCCESS) std::get<0>(*out).assign(reinterpret_cast<const char*>(&value), sizeof value);
  return r;
}

GPUPOOL_HANDLER(StreamSetAttribute) {
  const auto& [stream_id, attribute, raw] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  CUstreamAttrID id{};
  if (CUresult r = StreamAttribute(attribute, &id); r != CUDA_SUCCESS) return r;
  if (raw.size() != sizeof(CUstreamAttrValue)) return CUDA_ERROR_INVALID_VALUE;
  CUstreamAttrValue value{};
  std::memcpy(&value, raw.data(), sizeof value);
  if (id == CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW) {
    const CUaccessPolicyWindow& window = value.accessPolicyWindow;
    const auto base = reinterpret_cast<std::uint64_t>(window.base_ptr);
    // A window names device memory the persisting L2 lines come from: only the session's own.
    if (window.num_bytes > 0) {
      if (CUresult r = s.CheckRange(base, window.num_bytes); r != CUDA_SUCCESS) return r;
    }
  }
  return GPUPOOL_DRIVER(s, cuStreamSetAttribute, stream, id, &value);
}

GPUPOOL_HANDLER(StreamCopyAttributes) {
  CUstream dst = nullptr, src = nullptr;
  if (CUresult r = s.Stream(std::get<0>(in), &dst); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.Stream(std::get<1>(in), &src); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuStreamCopyAttributes, dst, src);
}

}  // namespace gpupool::server
