// CUDA arrays and mipmapped arrays: cuArray3DCreate's checks as the driver documents them (format, 1, 2 or 4
// channels, the shape each flag implies, the device's size limits), packed storage in device memory, the
// descriptor, and plausible memory requirements. Copies to and from arrays are in api_copy.cpp.
#include <algorithm>

#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/attributes.h"

namespace gpupool::server::emulated {
namespace {

constexpr unsigned kKnownFlags = CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_CUBEMAP |
                                 CUDA_ARRAY3D_TEXTURE_GATHER | CUDA_ARRAY3D_DEPTH_TEXTURE |
                                 CUDA_ARRAY3D_COLOR_ATTACHMENT | CUDA_ARRAY3D_SPARSE |
                                 CUDA_ARRAY3D_DEFERRED_MAPPING | CUDA_ARRAY3D_VIDEO_ENCODE_DECODE;
constexpr std::uint64_t kRowAlignment = 512;         // CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT
constexpr std::uint64_t kArrayAlignment = 64 << 10;  // what cuArrayGetMemoryRequirements reports

std::uint64_t Limit(const Context* ctx, CUdevice_attribute attribute) {
  int value = 0;
  (void)DeviceAttribute(attribute, GetState().devices[ctx->device].pci_bus, &value);
  return static_cast<std::uint64_t>(value);
}

// The largest width, height and depth (layers) the device allows for this shape.
struct Limits {
  CUdevice_attribute width, height, depth;
};

CUresult CheckShape(const Context* ctx, const CUDA_ARRAY3D_DESCRIPTOR& d) {
  const unsigned flags = d.Flags;
  if ((flags & ~kKnownFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & (CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_DEFERRED_MAPPING | CUDA_ARRAY3D_VIDEO_ENCODE_DECODE)) != 0)
    return CUDA_ERROR_NOT_SUPPORTED;
  if (d.Width == 0 || (d.Height == 0 && d.Depth != 0 && (flags & CUDA_ARRAY3D_LAYERED) == 0))
    return CUDA_ERROR_INVALID_VALUE;
  const bool layered = (flags & CUDA_ARRAY3D_LAYERED) != 0, cubemap = (flags & CUDA_ARRAY3D_CUBEMAP) != 0;
  const bool surface = (flags & CUDA_ARRAY3D_SURFACE_LDST) != 0;
  if ((flags & CUDA_ARRAY3D_TEXTURE_GATHER) != 0 && (d.Height == 0 || d.Depth != 0 || layered || cubemap))
    return CUDA_ERROR_INVALID_VALUE;
  Limits limits{};
  if (cubemap) {
    if (d.Width != d.Height || d.Depth == 0 || d.Depth % 6 != 0 || (!layered && d.Depth != 6))
      return CUDA_ERROR_INVALID_VALUE;
    limits = layered ? Limits{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_WIDTH,
                              CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_WIDTH,
                              CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_LAYERS}
                     : Limits{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_WIDTH,
                              CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_WIDTH,
                              CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_WIDTH};
    if (!layered) return d.Width <= Limit(ctx, limits.width) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    return d.Width <= Limit(ctx, limits.width) && d.Depth / 6 <= Limit(ctx, limits.depth) / 6
               ? CUDA_SUCCESS
               : CUDA_ERROR_INVALID_VALUE;
  }
  if (layered) {
    if (d.Depth == 0) return CUDA_ERROR_INVALID_VALUE;
    limits = d.Height == 0 ? Limits{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_WIDTH,
                                    CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_WIDTH,
                                    CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_LAYERS}
                           : Limits{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_WIDTH,
                                    CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_HEIGHT,
                                    CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_LAYERS};
  } else if (d.Height == 0) {
    limits =
        surface
            ? Limits{CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_WIDTH, CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_WIDTH,
                     CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_WIDTH}
            : Limits{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH,
                     CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH};
  } else if (d.Depth == 0) {
    limits = Limits{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_WIDTH, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT,
                    CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT};
  } else {
    limits = Limits{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT,
                    CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH};
  }
  if (d.Width > Limit(ctx, limits.width) || d.Height > Limit(ctx, limits.height) ||
      d.Depth > Limit(ctx, limits.depth)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

std::uint64_t RoundUp(std::uint64_t n, std::uint64_t to) {
  return (n + to - 1) / to * to;
}

// A new array in `ctx` (the state lock held).
CUresult NewArray(Context* ctx, const CUDA_ARRAY3D_DESCRIPTOR& desc, bool level, CUarray* out) {
  const std::uint32_t element = protocol::ArrayElementBytes(desc.Format, desc.NumChannels);
  if (element == 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckShape(ctx, desc); r != CUDA_SUCCESS) return r;
  auto array = std::make_unique<Array>();
  array->ctx = ctx;
  array->desc = desc;
  array->level = level;
  array->extent = protocol::ArrayExtentOf(desc.Width, desc.Height, desc.Depth, element);
  // Within the limits above the product cannot overflow (16384^3 elements of 16 bytes < 2^64).
  const std::uint64_t bytes = array->extent.row_bytes * array->extent.rows * array->extent.slices;
  if (CUresult r = GetState().devices[ctx->device].memory->Allocate(bytes, &array->memory); r != CUDA_SUCCESS)
    return r;
  *out = reinterpret_cast<CUarray>(array.get());
  GetState().arrays.emplace(*out, std::move(array));
  return CUDA_SUCCESS;
}

CUresult Array3DCreate(CUarray* out, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (out == nullptr || desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return NewArray(ctx, *desc, false, out);
}

void DestroyMipmap(CUmipmappedArray handle) {
  auto it = GetState().mipmaps.find(handle);
  if (it == GetState().mipmaps.end()) return;
  for (CUarray level : it->second->levels) DestroyArray(level);
  GetState().mipmaps.erase(it);
}

// Levels halve every dimension (down to 1) but the layers of a layered or cubemap array; a
// mipmapped array has at most 1 + log2 of its largest such dimension levels.
CUresult MipmappedArrayCreate(CUmipmappedArray* out, const CUDA_ARRAY3D_DESCRIPTOR* desc, unsigned levels) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (out == nullptr || desc == nullptr || levels == 0) return CUDA_ERROR_INVALID_VALUE;
  const bool layered = (desc->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0;
  std::uint64_t largest = std::max<std::uint64_t>(desc->Width, desc->Height);
  if (!layered) largest = std::max<std::uint64_t>(largest, desc->Depth);
  unsigned most = 1;
  while (largest >> most != 0) ++most;
  if (levels > most) return CUDA_ERROR_INVALID_VALUE;
  auto mipmap = std::make_unique<MipmappedArray>();
  mipmap->ctx = ctx;
  mipmap->desc = *desc;
  auto handle = reinterpret_cast<CUmipmappedArray>(mipmap.get());
  GetState().mipmaps.emplace(handle, std::move(mipmap));
  MipmappedArray& m = *GetState().mipmaps.at(handle);
  for (unsigned l = 0; l < levels; ++l) {
    const auto half = [l](std::size_t n) { return n == 0 ? 0 : std::max<std::size_t>(1, n >> l); };
    CUDA_ARRAY3D_DESCRIPTOR level = *desc;
    level.Width = half(desc->Width);
    level.Height = half(desc->Height);
    level.Depth = layered ? desc->Depth : half(desc->Depth);
    CUarray array = nullptr;
    if (CUresult r = NewArray(ctx, level, true, &array); r != CUDA_SUCCESS) {
      DestroyMipmap(handle);
      return r;
    }
    m.levels.push_back(array);
  }
  *out = handle;
  return CUDA_SUCCESS;
}

CUresult MipmappedArrayDestroy(CUmipmappedArray handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (GetState().mipmaps.count(handle) == 0) return CUDA_ERROR_INVALID_HANDLE;
  DestroyMipmap(handle);
  return CUDA_SUCCESS;
}

CUresult MipmappedArrayGetLevel(CUarray* out, CUmipmappedArray handle, unsigned level) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  auto it = GetState().mipmaps.find(handle);
  if (it == GetState().mipmaps.end()) return CUDA_ERROR_INVALID_HANDLE;
  if (out == nullptr || level >= it->second->levels.size()) return CUDA_ERROR_INVALID_VALUE;
  *out = it->second->levels[level];
  return CUDA_SUCCESS;
}

CUresult ArrayDestroy(CUarray handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  const Array* array = LookupArray(handle);
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (array->level) return CUDA_ERROR_INVALID_VALUE;  // destroyed with its mipmapped array
  DestroyArray(handle);
  return CUDA_SUCCESS;
}

CUresult Array3DGetDescriptor(CUDA_ARRAY3D_DESCRIPTOR* out, CUarray handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  const Array* array = LookupArray(handle);
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = array->desc;
  return CUDA_SUCCESS;
}

// Rows padded to the texture alignment, the whole rounded to 64 KiB pages: the shape of what a GPU
// asks for, not a claim about any particular one.
CUresult ArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS* out, CUarray handle, CUdevice device) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  const Array* array = LookupArray(handle);
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (out == nullptr || !ValidDevice(device) || device != array->ctx->device) return CUDA_ERROR_INVALID_VALUE;
  const protocol::ArrayExtent& e = array->extent;
  *out = CUDA_ARRAY_MEMORY_REQUIREMENTS{};
  out->size = RoundUp(RoundUp(e.row_bytes, kRowAlignment) * e.rows * e.slices, kArrayAlignment);
  out->alignment = kArrayAlignment;
  return CUDA_SUCCESS;
}

CUresult Texture1DLinearMaxWidth(size_t* out, CUarray_format format, unsigned channels, CUdevice device) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (out == nullptr || !ValidDevice(device) || protocol::ArrayElementBytes(format, channels) == 0)
    return CUDA_ERROR_INVALID_VALUE;
  int value = 0;
  if (CUresult r = DeviceAttribute(CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LINEAR_WIDTH,
                                   GetState().devices[device].pci_bus, &value);
      r != CUDA_SUCCESS) {
    return r;
  }
  *out = static_cast<size_t>(value);
  return CUDA_SUCCESS;
}

}  // namespace

Array* LookupArray(CUarray handle) {
  auto it = GetState().arrays.find(handle);
  return it == GetState().arrays.end() ? nullptr : it->second.get();
}

void DestroyArray(CUarray handle) {
  auto it = GetState().arrays.find(handle);
  if (it == GetState().arrays.end()) return;
  (void)MemoryFor(it->second->memory)->Free(it->second->memory);
  GetState().arrays.erase(it);
}

void FillArrayApi(DriverApi& api) {
  api.cuArray3DCreate_v2 = Array3DCreate;
  api.cuArrayDestroy = ArrayDestroy;
  api.cuArray3DGetDescriptor_v2 = Array3DGetDescriptor;
  api.cuArrayGetMemoryRequirements = ArrayGetMemoryRequirements;
  api.cuMipmappedArrayCreate = MipmappedArrayCreate;
  api.cuMipmappedArrayDestroy = MipmappedArrayDestroy;
  api.cuMipmappedArrayGetLevel = MipmappedArrayGetLevel;
  api.cuDeviceGetTexture1DLinearMaxWidth = Texture1DLinearMaxWidth;
}

}  // namespace gpupool::server::emulated
