// Handlers: texture and surface objects. The handle the client gets is the driver's own value
// (kernels receive it as a parameter), kept in the session's set so only the session's objects can
// be queried or destroyed. Every array or device range a resource names must be the session's.
#include <cstring>

#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

using ResourceFields = std::tuple<std::uint32_t, std::uint64_t, std::uint32_t, std::uint32_t, std::uint64_t,
                                  std::uint64_t, std::uint64_t, std::uint32_t>;

// A wire resource as a CUDA_RESOURCE_DESC, its array or memory checked against the session.
CUresult ResourceFromWire(const Session& s, const ResourceFields& w, CUDA_RESOURCE_DESC* out) {
  const auto& [type, object, format, channels, width, height, pitch, flags] = w;
  *out = CUDA_RESOURCE_DESC{};
  out->flags = flags;
  switch (type) {
    case CU_RESOURCE_TYPE_ARRAY:
      out->resType = CU_RESOURCE_TYPE_ARRAY;
      return s.Array(object, &out->res.array.hArray);
    case CU_RESOURCE_TYPE_LINEAR:
      if (protocol::ArrayElementBytes(format, channels) == 0) return CUDA_ERROR_INVALID_VALUE;
      if (CUresult r = s.CheckRange(object, width); r != CUDA_SUCCESS) return r;
      out->resType = CU_RESOURCE_TYPE_LINEAR;
      out->res.linear.devPtr = object;
      out->res.linear.format = static_cast<CUarray_format>(format);
      out->res.linear.numChannels = channels;
      out->res.linear.sizeInBytes = width;
      return CUDA_SUCCESS;
    case CU_RESOURCE_TYPE_PITCH2D: {
      const std::uint32_t element = protocol::ArrayElementBytes(format, channels);
      if (element == 0 || width > UINT64_MAX / element) return CUDA_ERROR_INVALID_VALUE;
      if (CUresult r = s.CheckRange2D(object, pitch, width * element, height); r != CUDA_SUCCESS) return r;
      out->resType = CU_RESOURCE_TYPE_PITCH2D;
      out->res.pitch2D.devPtr = object;
      out->res.pitch2D.format = static_cast<CUarray_format>(format);
      out->res.pitch2D.numChannels = channels;
      out->res.pitch2D.width = width;
      out->res.pitch2D.height = height;
      out->res.pitch2D.pitchInBytes = pitch;
      return CUDA_SUCCESS;
    }
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY:
      out->resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY;
      return s.Mipmap(object, &out->res.mipmap.hMipmappedArray);
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

// A resource the driver describes, with its array as the session's id.
CUresult ResourceToWire(const Session& s, const CUDA_RESOURCE_DESC& d, ResourceFields* w) {
  switch (d.resType) {
    case CU_RESOURCE_TYPE_ARRAY:
      for (const auto& [id, array] : s.arrays.all()) {
        if (array == d.res.array.hArray) {
          *w = {CU_RESOURCE_TYPE_ARRAY, id, 0, 0, 0, 0, 0, d.flags};
          return CUDA_SUCCESS;
        }
      }
      return CUDA_ERROR_INVALID_HANDLE;  // its array was destroyed
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY:
      for (const auto& [id, mipmap] : s.mipmaps.all()) {
        if (mipmap == d.res.mipmap.hMipmappedArray) {
          *w = {CU_RESOURCE_TYPE_MIPMAPPED_ARRAY, id, 0, 0, 0, 0, 0, d.flags};
          return CUDA_SUCCESS;
        }
      }
      return CUDA_ERROR_INVALID_HANDLE;
    case CU_RESOURCE_TYPE_LINEAR:
      *w = {CU_RESOURCE_TYPE_LINEAR,
            d.res.linear.devPtr,
            static_cast<std::uint32_t>(d.res.linear.format),
            d.res.linear.numChannels,
            d.res.linear.sizeInBytes,
            0,
            0,
            d.flags};
      return CUDA_SUCCESS;
    case CU_RESOURCE_TYPE_PITCH2D:
      *w = {CU_RESOURCE_TYPE_PITCH2D,
            d.res.pitch2D.devPtr,
            static_cast<std::uint32_t>(d.res.pitch2D.format),
            d.res.pitch2D.numChannels,
            d.res.pitch2D.width,
            d.res.pitch2D.height,
            d.res.pitch2D.pitchInBytes,
            d.flags};
      return CUDA_SUCCESS;
    default: return CUDA_ERROR_NOT_SUPPORTED;
  }
}

// A pointer-free descriptor struct from its raw bytes, which must be exactly its size.
template <typename T>
CUresult StructFromWire(const std::string& bytes, T* out) {
  if (bytes.size() != sizeof(T)) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(out, bytes.data(), sizeof(T));
  return CUDA_SUCCESS;
}

template <typename T>
std::string StructToWire(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}

CUresult OwnedTexture(const Session& s, std::uint64_t handle) {
  return s.textures.count(handle) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
CUresult OwnedSurface(const Session& s, std::uint64_t handle) {
  return s.surfaces.count(handle) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

}  // namespace

GPUPOOL_HANDLER(TexObjectCreate) {
  const auto& [type, object, format, channels, width, height, pitch, flags, tex_bytes, view_bytes] = in;
  CUDA_RESOURCE_DESC resource{};
  if (CUresult r =
          ResourceFromWire(s, {type, object, format, channels, width, height, pitch, flags}, &resource);
      r != CUDA_SUCCESS) {
    return r;
  }
  CUDA_TEXTURE_DESC texture{};
  if (CUresult r = StructFromWire(tex_bytes, &texture); r != CUDA_SUCCESS) return r;
  CUDA_RESOURCE_VIEW_DESC view{};
  const bool has_view = !view_bytes.empty();
  if (has_view) {
    if (CUresult r = StructFromWire(view_bytes, &view); r != CUDA_SUCCESS) return r;
  }
  CUtexObject handle = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuTexObjectCreate, &handle, &resource, &texture, has_view ? &view : nullptr);
  if (r != CUDA_SUCCESS) return r;
  s.textures.insert(handle);
  std::get<0>(*out) = handle;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(TexObjectDestroy) {
  const std::uint64_t handle = std::get<0>(in);
  if (CUresult r = OwnedTexture(s, handle); r != CUDA_SUCCESS) return r;
  if (CUresult r = GPUPOOL_DRIVER(s, cuTexObjectDestroy, handle); r != CUDA_SUCCESS) return r;
  s.textures.erase(handle);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(TexObjectGetResourceDesc) {
  const std::uint64_t handle = std::get<0>(in);
  if (CUresult r = OwnedTexture(s, handle); r != CUDA_SUCCESS) return r;
  CUDA_RESOURCE_DESC resource{};
  if (CUresult r = GPUPOOL_DRIVER(s, cuTexObjectGetResourceDesc, &resource, handle); r != CUDA_SUCCESS)
    return r;
  return ResourceToWire(s, resource, out);
}

GPUPOOL_HANDLER(TexObjectGetTextureDesc) {
  const std::uint64_t handle = std::get<0>(in);
  if (CUresult r = OwnedTexture(s, handle); r != CUDA_SUCCESS) return r;
  CUDA_TEXTURE_DESC texture{};
  if (CUresult r = GPUPOOL_DRIVER(s, cuTexObjectGetTextureDesc, &texture, handle); r != CUDA_SUCCESS)
    return r;
  std::get<0>(*out) = StructToWire(texture);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(TexObjectGetResourceViewDesc) {
  const std::uint64_t handle = std::get<0>(in);
  if (CUresult r = OwnedTexture(s, handle); r != CUDA_SUCCESS) return r;
  CUDA_RESOURCE_VIEW_DESC view{};
  if (CUresult r = GPUPOOL_DRIVER(s, cuTexObjectGetResourceViewDesc, &view, handle); r != CUDA_SUCCESS)
    return r;
  std::get<0>(*out) = StructToWire(view);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(SurfObjectCreate) {
  CUDA_RESOURCE_DESC resource{};
  if (CUresult r = ResourceFromWire(s, in, &resource); r != CUDA_SUCCESS) return r;
  CUsurfObject handle = 0;
  if (CUresult r = GPUPOOL_DRIVER(s, cuSurfObjectCreate, &handle, &resource); r != CUDA_SUCCESS) return r;
  s.surfaces.insert(handle);
  std::get<0>(*out) = handle;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(SurfObjectDestroy) {
  const std::uint64_t handle = std::get<0>(in);
  if (CUresult r = OwnedSurface(s, handle); r != CUDA_SUCCESS) return r;
  if (CUresult r = GPUPOOL_DRIVER(s, cuSurfObjectDestroy, handle); r != CUDA_SUCCESS) return r;
  s.surfaces.erase(handle);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(SurfObjectGetResourceDesc) {
  const std::uint64_t handle = std::get<0>(in);
  if (CUresult r = OwnedSurface(s, handle); r != CUDA_SUCCESS) return r;
  CUDA_RESOURCE_DESC resource{};
  if (CUresult r = GPUPOOL_DRIVER(s, cuSurfObjectGetResourceDesc, &resource, handle); r != CUDA_SUCCESS)
    return r;
  return ResourceToWire(s, resource, out);
}

}  // namespace gpupool::server
