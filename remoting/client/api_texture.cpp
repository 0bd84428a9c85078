// Texture and surface objects, forwarded: the handle the program gets is the server driver's own
// value, so a kernel that receives it as a parameter reads the right object on the GPU. Resources
// travel with their array or mipmapped array as its server id (arrays.h).
#include <cstring>

#include "remoting/client/api_support.h"
#include "remoting/client/arrays.h"

using namespace gpupool::client;

namespace {

using ResourceFields = protocol::Call<Op::SurfObjectCreate>::Request;

CUresult ResourceToWire(const CUDA_RESOURCE_DESC* r, ResourceFields* w) {
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (r->resType) {
    case CU_RESOURCE_TYPE_ARRAY: {
      const Array* array = ArrayTable::Get().arrays.Find(r->res.array.hArray);
      if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
      *w = {CU_RESOURCE_TYPE_ARRAY, array->id, 0, 0, 0, 0, 0, r->flags};
      return CUDA_SUCCESS;
    }
    case CU_RESOURCE_TYPE_LINEAR:
      *w = {CU_RESOURCE_TYPE_LINEAR,
            r->res.linear.devPtr,
            static_cast<std::uint32_t>(r->res.linear.format),
            r->res.linear.numChannels,
            r->res.linear.sizeInBytes,
            0,
            0,
            r->flags};
      return CUDA_SUCCESS;
    case CU_RESOURCE_TYPE_PITCH2D:
      *w = {CU_RESOURCE_TYPE_PITCH2D,
            r->res.pitch2D.devPtr,
            static_cast<std::uint32_t>(r->res.pitch2D.format),
            r->res.pitch2D.numChannels,
            r->res.pitch2D.width,
            r->res.pitch2D.height,
            r->res.pitch2D.pitchInBytes,
            r->flags};
      return CUDA_SUCCESS;
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY: {
      const MipmappedArray* mipmap = ArrayTable::Get().mipmaps.Find(r->res.mipmap.hMipmappedArray);
      if (mipmap == nullptr) return CUDA_ERROR_INVALID_HANDLE;
      *w = {CU_RESOURCE_TYPE_MIPMAPPED_ARRAY, mipmap->id, 0, 0, 0, 0, 0, r->flags};
      return CUDA_SUCCESS;
    }
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult ResourceFromWire(const ResourceFields& w, CUDA_RESOURCE_DESC* r) {
  const auto& [type, object, format, channels, width, height, pitch, flags] = w;
  *r = CUDA_RESOURCE_DESC{};
  r->flags = flags;
  switch (type) {
    case CU_RESOURCE_TYPE_ARRAY:
      r->resType = CU_RESOURCE_TYPE_ARRAY;
      r->res.array.hArray = ArrayTable::Get().arrays.ById(object);
      return r->res.array.hArray != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY:
      r->resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY;
      r->res.mipmap.hMipmappedArray = ArrayTable::Get().mipmaps.ById(object);
      return r->res.mipmap.hMipmappedArray != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    case CU_RESOURCE_TYPE_LINEAR:
      r->resType = CU_RESOURCE_TYPE_LINEAR;
      r->res.linear.devPtr = object;
      r->res.linear.format = static_cast<CUarray_format>(format);
      r->res.linear.numChannels = channels;
      r->res.linear.sizeInBytes = width;
      return CUDA_SUCCESS;
    case CU_RESOURCE_TYPE_PITCH2D:
      r->resType = CU_RESOURCE_TYPE_PITCH2D;
      r->res.pitch2D.devPtr = object;
      r->res.pitch2D.format = static_cast<CUarray_format>(format);
      r->res.pitch2D.numChannels = channels;
      r->res.pitch2D.width = width;
      r->res.pitch2D.height = height;
      r->res.pitch2D.pitchInBytes = pitch;
      return CUDA_SUCCESS;
    default: return CUDA_ERROR_UNKNOWN;  // the server sends only the kinds above
  }
}

template <typename T>
std::string Bytes(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <typename T>
CUresult FromBytes(const std::string& bytes, T* out) {
  if (bytes.size() != sizeof(T)) return CUDA_ERROR_UNKNOWN;  // a server of another ABI
  std::memcpy(out, bytes.data(), sizeof(T));
  return CUDA_SUCCESS;
}

// A query of one object: `op` with its handle, the reply's fields in *reply.
template <Op op>
CUresult Query(std::uint64_t handle, void* out, typename protocol::Call<op>::Reply* reply) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  return Rpc<op>(context, {handle}, reply);
}

}  // namespace

GPUPOOL_API CUresult cuTexObjectCreate(CUtexObject* out, const CUDA_RESOURCE_DESC* resource,
                                       const CUDA_TEXTURE_DESC* texture,
                                       const CUDA_RESOURCE_VIEW_DESC* view) {
  if (out == nullptr || texture == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ResourceFields w;
  GPUPOOL_CU_RETURN_IF_ERROR(ResourceToWire(resource, &w));
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  const auto& [type, object, format, channels, width, height, pitch, flags] = w;
  protocol::Call<Op::TexObjectCreate>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::TexObjectCreate>(context,
                               {type, object, format, channels, width, height, pitch, flags, Bytes(*texture),
                                view != nullptr ? Bytes(*view) : std::string()},
                               &reply));
  *out = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuTexObjectDestroy(CUtexObject handle) {
  return DestroyRemote<Op::TexObjectDestroy>(handle);
}

GPUPOOL_API CUresult cuTexObjectGetResourceDesc(CUDA_RESOURCE_DESC* out, CUtexObject handle) {
  protocol::Call<Op::TexObjectGetResourceDesc>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Query<Op::TexObjectGetResourceDesc>(handle, out, &reply));
  return ResourceFromWire(reply, out);
}

GPUPOOL_API CUresult cuTexObjectGetTextureDesc(CUDA_TEXTURE_DESC* out, CUtexObject handle) {
  protocol::Call<Op::TexObjectGetTextureDesc>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Query<Op::TexObjectGetTextureDesc>(handle, out, &reply));
  return FromBytes(std::get<0>(reply), out);
}

GPUPOOL_API CUresult cuTexObjectGetResourceViewDesc(CUDA_RESOURCE_VIEW_DESC* out, CUtexObject handle) {
  protocol::Call<Op::TexObjectGetResourceViewDesc>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Query<Op::TexObjectGetResourceViewDesc>(handle, out, &reply));
  return FromBytes(std::get<0>(reply), out);
}

GPUPOOL_API CUresult cuSurfObjectCreate(CUsurfObject* out, const CUDA_RESOURCE_DESC* resource) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ResourceFields w;
  GPUPOOL_CU_RETURN_IF_ERROR(ResourceToWire(resource, &w));
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::SurfObjectCreate>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::SurfObjectCreate>(context, w, &reply));
  *out = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuSurfObjectDestroy(CUsurfObject handle) {
  return DestroyRemote<Op::SurfObjectDestroy>(handle);
}

GPUPOOL_API CUresult cuSurfObjectGetResourceDesc(CUDA_RESOURCE_DESC* out, CUsurfObject handle) {
  protocol::Call<Op::SurfObjectGetResourceDesc>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Query<Op::SurfObjectGetResourceDesc>(handle, out, &reply));
  return ResourceFromWire(reply, out);
}
