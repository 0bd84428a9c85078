// Texture and surface objects: cuTexObjectCreate's and cuSurfObjectCreate's checks as the driver
// documents them (a live array, or device memory that is allocated, aligned and within the linear
// limits; known address and filter modes; views only of arrays; surfaces only of arrays created
// with CUDA_ARRAY3D_SURFACE_LDST). Handles are the emulator's own ids; the descriptors are kept and
// given back by the Get*Desc calls. Nothing samples them: kernels are not executed.
#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/attributes.h"
#include "remoting/server/emulated/raw_enum.h"

namespace gpupool::server::emulated {
namespace {

int Attribute(const Context* ctx, CUdevice_attribute attribute) {
  int value = 0;
  (void)DeviceAttribute(attribute, GetState().devices[ctx->device].pci_bus, &value);
  return value;
}

CUresult CheckResource(const Context* ctx, const CUDA_RESOURCE_DESC& r) {
  if (r.flags != 0) return CUDA_ERROR_INVALID_VALUE;
  const auto aligned = [&](CUdeviceptr p) {
    return p % static_cast<CUdeviceptr>(Attribute(ctx, CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT)) == 0;
  };
  switch (r.resType) {
    case CU_RESOURCE_TYPE_ARRAY:
      return LookupArray(r.res.array.hArray) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    case CU_RESOURCE_TYPE_LINEAR: {
      const auto& l = r.res.linear;
      const std::uint32_t element = protocol::ArrayElementBytes(l.format, l.numChannels);
      if (element == 0 || l.sizeInBytes == 0 || !aligned(l.devPtr)) return CUDA_ERROR_INVALID_VALUE;
      if (l.sizeInBytes / element >
          static_cast<std::size_t>(Attribute(ctx, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LINEAR_WIDTH)))
        return CUDA_ERROR_INVALID_VALUE;
      return ResolveDevice(l.devPtr, l.sizeInBytes) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    }
    case CU_RESOURCE_TYPE_PITCH2D: {
      const auto& p = r.res.pitch2D;
      const std::uint32_t element = protocol::ArrayElementBytes(p.format, p.numChannels);
      if (element == 0 || p.width == 0 || p.height == 0 || !aligned(p.devPtr))
        return CUDA_ERROR_INVALID_VALUE;
      if (p.pitchInBytes %
                  static_cast<std::size_t>(Attribute(ctx, CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT)) !=
              0 ||
          p.width >
              static_cast<std::size_t>(Attribute(ctx, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_WIDTH)) ||
          p.height >
              static_cast<std::size_t>(Attribute(ctx, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_HEIGHT)) ||
          p.pitchInBytes >
              static_cast<std::size_t>(Attribute(ctx, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_PITCH)) ||
          p.width * element > p.pitchInBytes) {
        return CUDA_ERROR_INVALID_VALUE;
      }
      return ResolveDevice(p.devPtr, (p.height - 1) * p.pitchInBytes + p.width * element)
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    }
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY:
      return GetState().mipmaps.count(r.res.mipmap.hMipmappedArray) != 0 ? CUDA_SUCCESS
                                                                         : CUDA_ERROR_INVALID_HANDLE;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult CheckTexture(const CUDA_TEXTURE_DESC& t) {
  for (const CUaddress_mode& field : t.addressMode) {
    const int mode = RawEnum(field);
    if (mode < CU_TR_ADDRESS_MODE_WRAP || mode > CU_TR_ADDRESS_MODE_BORDER) return CUDA_ERROR_INVALID_VALUE;
  }
  for (int filter : {RawEnum(t.filterMode), RawEnum(t.mipmapFilterMode)}) {
    if (filter != CU_TR_FILTER_MODE_POINT && filter != CU_TR_FILTER_MODE_LINEAR)
      return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

CUresult TexObjectCreate(CUtexObject* out, const CUDA_RESOURCE_DESC* resource,
                         const CUDA_TEXTURE_DESC* texture, const CUDA_RESOURCE_VIEW_DESC* view) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (out == nullptr || resource == nullptr || texture == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckResource(ctx, *resource); r != CUDA_SUCCESS) return r;
  if (CUresult r = CheckTexture(*texture); r != CUDA_SUCCESS) return r;
  // A view reinterprets an array; linear and pitched memory have none.
  if (view != nullptr && resource->resType != CU_RESOURCE_TYPE_ARRAY &&
      resource->resType != CU_RESOURCE_TYPE_MIPMAPPED_ARRAY)
    return CUDA_ERROR_INVALID_VALUE;
  TextureObject object;
  object.ctx = ctx;
  object.resource = *resource;
  object.texture = *texture;
  if (view != nullptr) object.view = *view;
  *out = GetState().next_id++;
  GetState().textures.emplace(*out, object);
  return CUDA_SUCCESS;
}

// The object behind a texture or surface handle, or nullptr.
const TextureObject* Find(const std::unordered_map<unsigned long long, TextureObject>& table,
                          unsigned long long handle) {
  auto it = table.find(handle);
  return it == table.end() ? nullptr : &it->second;
}

CUresult TexObjectDestroy(CUtexObject handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return GetState().textures.erase(handle) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult TexObjectGetResourceDesc(CUDA_RESOURCE_DESC* out, CUtexObject handle) {
  GPUPOOL_EMULATED_LOCK();
  const TextureObject* t = Find(GetState().textures, handle);
  if (t == nullptr || out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = t->resource;
  return CUDA_SUCCESS;
}

CUresult TexObjectGetTextureDesc(CUDA_TEXTURE_DESC* out, CUtexObject handle) {
  GPUPOOL_EMULATED_LOCK();
  const TextureObject* t = Find(GetState().textures, handle);
  if (t == nullptr || out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = t->texture;
  return CUDA_SUCCESS;
}

CUresult TexObjectGetResourceViewDesc(CUDA_RESOURCE_VIEW_DESC* out, CUtexObject handle) {
  GPUPOOL_EMULATED_LOCK();
  const TextureObject* t = Find(GetState().textures, handle);
  if (t == nullptr || out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = t->view;  // all zero when created without a view
  return CUDA_SUCCESS;
}

CUresult SurfObjectCreate(CUsurfObject* out, const CUDA_RESOURCE_DESC* resource) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (out == nullptr || resource == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (resource->resType != CU_RESOURCE_TYPE_ARRAY || resource->flags != 0) return CUDA_ERROR_INVALID_VALUE;
  const Array* array = LookupArray(resource->res.array.hArray);
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if ((array->desc.Flags & CUDA_ARRAY3D_SURFACE_LDST) == 0) return CUDA_ERROR_INVALID_VALUE;
  TextureObject object;
  object.ctx = ctx;
  object.resource = *resource;
  *out = GetState().next_id++;
  GetState().surfaces.emplace(*out, object);
  return CUDA_SUCCESS;
}

CUresult SurfObjectDestroy(CUsurfObject handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return GetState().surfaces.erase(handle) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult SurfObjectGetResourceDesc(CUDA_RESOURCE_DESC* out, CUsurfObject handle) {
  GPUPOOL_EMULATED_LOCK();
  const TextureObject* t = Find(GetState().surfaces, handle);
  if (t == nullptr || out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = t->resource;
  return CUDA_SUCCESS;
}

}  // namespace

void FillTextureApi(DriverApi& api) {
  api.cuTexObjectCreate = TexObjectCreate;
  api.cuTexObjectDestroy = TexObjectDestroy;
  api.cuTexObjectGetResourceDesc = TexObjectGetResourceDesc;
  api.cuTexObjectGetTextureDesc = TexObjectGetTextureDesc;
  api.cuTexObjectGetResourceViewDesc = TexObjectGetResourceViewDesc;
  api.cuSurfObjectCreate = SurfObjectCreate;
  api.cuSurfObjectDestroy = SurfObjectDestroy;
  api.cuSurfObjectGetResourceDesc = SurfObjectGetResourceDesc;
}

}  // namespace gpupool::server::emulated
