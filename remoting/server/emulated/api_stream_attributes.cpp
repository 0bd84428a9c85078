// Stream attributes: what cuStreamSetAttribute stored is what cuStreamGetAttribute returns, with the
// driver's defaults before that (no access policy window, CU_SYNC_POLICY_AUTO, domain 0 mapped to
// 0 and remote to 1) and the checks cuda.h documents for each value. The priority attribute is the
// stream's priority (clamped as at creation).
#include <cmath>

#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/attributes.h"
#include "remoting/server/emulated/raw_enum.h"

namespace gpupool::server::emulated {
namespace {

constexpr int kGreatestPriority = -5;

bool StreamAttribute(CUstreamAttrID id) {
  switch (static_cast<int>(id)) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_STREAM_ATTRIBUTE_PRIORITY:
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING: return true;
    default: return false;
  }
}

int Attribute(CUdevice_attribute attribute) {
  int value = 0;
  DeviceAttribute(attribute, 0, &value);
  return value;
}

bool ValidAccessProperty(int p) {
  return p == CU_ACCESS_PROPERTY_NORMAL || p == CU_ACCESS_PROPERTY_STREAMING ||
         p == CU_ACCESS_PROPERTY_PERSISTING;
}

// CUDA_ERROR_INVALID_VALUE for a value outside what cuda.h documents for the attribute.
CUresult CheckValue(CUstreamAttrID id, const CUstreamAttrValue& v) {
  switch (static_cast<int>(id)) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW: {
      const CUaccessPolicyWindow& w = v.accessPolicyWindow;
      if (!(w.hitRatio >= 0.0f && w.hitRatio <= 1.0f)) return CUDA_ERROR_INVALID_VALUE;
      if (!ValidAccessProperty(RawEnum(w.hitProp)) || !ValidAccessProperty(RawEnum(w.missProp)))
        return CUDA_ERROR_INVALID_VALUE;
      if (w.num_bytes >
          static_cast<std::size_t>(Attribute(CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE)))
        return CUDA_ERROR_INVALID_VALUE;
      return CUDA_SUCCESS;
    }
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY:
      return RawEnum(v.syncPolicy) >= CU_SYNC_POLICY_AUTO &&
                     RawEnum(v.syncPolicy) <= CU_SYNC_POLICY_BLOCKING_SYNC
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP: {
      const int domains = Attribute(CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT);
      return v.memSyncDomainMap.default_ < domains && v.memSyncDomainMap.remote < domains
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    }
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN:
      return RawEnum(v.memSyncDomain) == CU_LAUNCH_MEM_SYNC_DOMAIN_DEFAULT ||
                     RawEnum(v.memSyncDomain) == CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    default: return CUDA_SUCCESS;
  }
}

CUstreamAttrValue Default(CUstreamAttrID id) {
  CUstreamAttrValue v{};
  if (id == CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY) v.syncPolicy = CU_SYNC_POLICY_AUTO;
  if (id == CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP) v.memSyncDomainMap.remote = 1;
  return v;
}

// The attribute map and priority of a stream (null priority for the default streams, always 0).
struct Target {
  std::map<int, CUstreamAttrValue>* attributes = nullptr;
  int* priority = nullptr;
};

CUresult Find(Context* ctx, CUstream stream, Target* out) {
  if (CUresult r = CheckStream(stream); r != CUDA_SUCCESS) return r;
  auto it = GetState().streams.find(stream);
  if (it != GetState().streams.end()) {
    *out = {&it->second->attributes, &it->second->priority};
  } else {
    *out = {&ctx->default_stream_attributes[StreamId(stream) == 0 ? 0 : 1], nullptr};
  }
  return CUDA_SUCCESS;
}

CUresult StreamGetAttribute(CUstream stream, CUstreamAttrID id, CUstreamAttrValue* value) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (value == nullptr || !StreamAttribute(id)) return CUDA_ERROR_INVALID_VALUE;
  Target t;
  if (CUresult r = Find(ctx, stream, &t); r != CUDA_SUCCESS) return r;
  if (id == CU_STREAM_ATTRIBUTE_PRIORITY) {
    *value = CUstreamAttrValue{};
    value->priority = t.priority != nullptr ? *t.priority : 0;
    return CUDA_SUCCESS;
  }
  auto it = t.attributes->find(id);
  *value = it != t.attributes->end() ? it->second : Default(id);
  return CUDA_SUCCESS;
}

CUresult StreamSetAttribute(CUstream stream, CUstreamAttrID id, const CUstreamAttrValue* value) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (value == nullptr || !StreamAttribute(id)) return CUDA_ERROR_INVALID_VALUE;
  Target t;
  if (CUresult r = Find(ctx, stream, &t); r != CUDA_SUCCESS) return r;
  if (CUresult r = CheckValue(id, *value); r != CUDA_SUCCESS) return r;
  if (id == CU_STREAM_ATTRIBUTE_PRIORITY) {
    if (t.priority == nullptr) return CUDA_ERROR_INVALID_VALUE;  // a default stream's priority is fixed
    const int p = value->priority;
    *t.priority = p > 0 ? 0 : p < kGreatestPriority ? kGreatestPriority : p;
    return CUDA_SUCCESS;
  }
  (*t.attributes)[id] = *value;
  return CUDA_SUCCESS;
}

CUresult StreamCopyAttributes(CUstream dst, CUstream src) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  Target to, from;
  if (CUresult r = Find(ctx, dst, &to); r != CUDA_SUCCESS) return r;
  if (CUresult r = Find(ctx, src, &from); r != CUDA_SUCCESS) return r;
  *to.attributes = *from.attributes;
  if (to.priority != nullptr) *to.priority = from.priority != nullptr ? *from.priority : 0;
  return CUDA_SUCCESS;
}

}  // namespace

void FillStreamAttributeApi(DriverApi& api) {
  api.cuStreamGetAttribute = StreamGetAttribute;
  api.cuStreamSetAttribute = StreamSetAttribute;
  api.cuStreamCopyAttributes = StreamCopyAttributes;
}

}  // namespace gpupool::server::emulated
