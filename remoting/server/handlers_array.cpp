// Handlers: CUDA arrays. An array is a session-owned id like every other handle; its extent is kept
// so copies can be bounds-checked (handlers_copy_3d.cpp), and its bytes count against the session's
// memory limit like an allocation's.
#include <algorithm>

#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

// Forgets a destroyed array (or mipmapped array) and gives its bytes back to the quota.
void ForgetArray(Session& s, std::uint64_t id) {
  s.arrays.Remove(id);
  s.mipmaps.Remove(id);
  s.array_extents.erase(id);
  auto charge = s.array_charges.find(id);
  if (charge != s.array_charges.end()) {
    s.array_bytes.Remove(charge->second.device, charge->second.bytes);
    s.array_charges.erase(charge);
  }
  s.PublishMemory();
}

// The packed bytes of an array of this shape (what the quota is charged), false on overflow.
bool PackedBytes(const protocol::ArrayExtent& e, std::uint64_t width, std::uint32_t element,
                 std::uint64_t* bytes) {
  return width <= UINT64_MAX / element && !__builtin_mul_overflow(e.row_bytes, e.rows, bytes) &&
         !__builtin_mul_overflow(*bytes, e.slices, bytes);
}

// The descriptor from its wire fields (the format is one ArrayElementBytes knows).
CUDA_ARRAY3D_DESCRIPTOR Descriptor(std::uint64_t width, std::uint64_t height, std::uint64_t depth,
                                   std::uint32_t format, std::uint32_t channels, std::uint32_t flags) {
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  desc.Width = width;
  desc.Height = height;
  desc.Depth = depth;
  desc.Format = static_cast<CUarray_format>(format);
  desc.NumChannels = channels;
  desc.Flags = flags;
  return desc;
}

// Records a new array or mipmapped array id and its charge.
void Charge(Session& s, std::uint64_t id, int device, std::uint64_t bytes) {
  s.array_charges[id] = {device, bytes};
  s.array_bytes.Add(device, bytes);
  s.PublishMemory();
}

}  // namespace

GPUPOOL_HANDLER(ArrayCreate) {
  const auto& [width, height, depth, format, channels, flags] = in;
  const std::uint32_t element = protocol::ArrayElementBytes(format, channels);
  if (element == 0 || width == 0) return CUDA_ERROR_INVALID_VALUE;
  const protocol::ArrayExtent extent = protocol::ArrayExtentOf(width, height, depth, element);
  // The bytes charged to the quota: the packed extent (the driver's padding is its own business).
  std::uint64_t bytes = 0;
  if (!PackedBytes(extent, width, element, &bytes)) return CUDA_ERROR_INVALID_VALUE;
  const int device = s.CurrentDevice();
  if (CUresult r = s.CheckQuota(bytes, device); r != CUDA_SUCCESS) return r;
  const CUDA_ARRAY3D_DESCRIPTOR desc = Descriptor(width, height, depth, format, channels, flags);
  CUarray array = nullptr;
  if (CUresult r = GPUPOOL_DRIVER(s, cuArray3DCreate_v2, &array, &desc); r != CUDA_SUCCESS) return r;
  const std::uint64_t id = s.arrays.Add(array);
  s.array_extents[id] = extent;
  Charge(s, id, device, bytes);
  std::get<0>(*out) = id;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(ArrayDestroy) {
  const std::uint64_t id = std::get<0>(in);
  CUarray array = nullptr;
  if (CUresult r = s.Array(id, &array); r != CUDA_SUCCESS) return r;
  if (s.level_arrays.count(id) != 0) return CUDA_ERROR_INVALID_VALUE;  // dies with its mipmapped array
  if (CUresult r = GPUPOOL_DRIVER(s, cuArrayDestroy, array); r != CUDA_SUCCESS) return r;
  ForgetArray(s, id);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(ArrayGetDescriptor) {
  CUarray array = nullptr;
  if (CUresult r = s.Array(std::get<0>(in), &array); r != CUDA_SUCCESS) return r;
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  if (CUresult r = GPUPOOL_DRIVER(s, cuArray3DGetDescriptor_v2, &desc, array); r != CUDA_SUCCESS) return r;
  *out = {desc.Width,       desc.Height, desc.Depth, static_cast<std::uint32_t>(desc.Format),
          desc.NumChannels, desc.Flags};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(ArrayGetMemoryRequirements) {
  const auto& [id, device] = in;
  CUarray array = nullptr;
  if (CUresult r = s.Array(id, &array); r != CUDA_SUCCESS) return r;
  CUDA_ARRAY_MEMORY_REQUIREMENTS req{};
  if (CUresult r = GPUPOOL_DRIVER(s, cuArrayGetMemoryRequirements, &req, array, device); r != CUDA_SUCCESS)
    return r;
  *out = {req.size, req.alignment};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MipmappedArrayCreate) {
  const auto& [width, height, depth, format, channels, flags, levels] = in;
  const std::uint32_t element = protocol::ArrayElementBytes(format, channels);
  if (element == 0 || width == 0 || levels == 0 || levels > 64) return CUDA_ERROR_INVALID_VALUE;
  // Charged: every level's packed extent (each dimension halves, down to 1; layers stay).
  const bool layered = (flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0;
  std::uint64_t bytes = 0;
  for (std::uint32_t l = 0; l < levels; ++l) {
    const auto half = [l](std::uint64_t n) { return n == 0 ? 0 : std::max<std::uint64_t>(1, n >> l); };
    const std::uint64_t w = half(width), level_depth = layered ? depth : half(depth);
    std::uint64_t level_bytes = 0;
    if (!PackedBytes(protocol::ArrayExtentOf(w, half(height), level_depth, element), w, element,
                     &level_bytes) ||
        __builtin_add_overflow(bytes, level_bytes, &bytes)) {
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  const int device = s.CurrentDevice();
  if (CUresult r = s.CheckQuota(bytes, device); r != CUDA_SUCCESS) return r;
  const CUDA_ARRAY3D_DESCRIPTOR desc = Descriptor(width, height, depth, format, channels, flags);
  CUmipmappedArray mipmap = nullptr;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMipmappedArrayCreate, &mipmap, &desc, levels); r != CUDA_SUCCESS)
    return r;
  const std::uint64_t id = s.mipmaps.Add(mipmap);
  Charge(s, id, device, bytes);
  std::get<0>(*out) = id;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MipmappedArrayDestroy) {
  const std::uint64_t id = std::get<0>(in);
  CUmipmappedArray mipmap = nullptr;
  if (CUresult r = s.Mipmap(id, &mipmap); r != CUDA_SUCCESS) return r;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMipmappedArrayDestroy, mipmap); r != CUDA_SUCCESS) return r;
  auto [first, last] = s.mipmap_levels.equal_range(id);
  for (auto it = first; it != last; ++it) {
    s.level_arrays.erase(it->second);
    ForgetArray(s, it->second);
  }
  s.mipmap_levels.erase(first, last);
  ForgetArray(s, id);
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MipmappedArrayGetLevel) {
  const auto& [id, level] = in;
  CUmipmappedArray mipmap = nullptr;
  if (CUresult r = s.Mipmap(id, &mipmap); r != CUDA_SUCCESS) return r;
  CUarray array = nullptr;
  if (CUresult r = GPUPOOL_DRIVER(s, cuMipmappedArrayGetLevel, &array, mipmap, level); r != CUDA_SUCCESS)
    return r;
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  if (CUresult r = GPUPOOL_DRIVER(s, cuArray3DGetDescriptor_v2, &desc, array); r != CUDA_SUCCESS) return r;
  const std::uint32_t element = protocol::ArrayElementBytes(desc.Format, desc.NumChannels);
  if (element == 0) return CUDA_ERROR_UNKNOWN;          // the driver made it from a format we checked
  const std::uint64_t level_id = s.arrays.IdOf(array);  // the same level keeps its id
  if (s.level_arrays.insert(level_id).second) {
    s.array_extents[level_id] = protocol::ArrayExtentOf(desc.Width, desc.Height, desc.Depth, element);
    s.mipmap_levels.emplace(id, level_id);
  }
  *out = {level_id, desc.Width, desc.Height, desc.Depth};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(DeviceGetTexture1DLinearMaxWidth) {
  const auto& [format, channels, device] = in;
  if (protocol::ArrayElementBytes(format, channels) == 0) return CUDA_ERROR_INVALID_VALUE;
  std::size_t width = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuDeviceGetTexture1DLinearMaxWidth, &width,
                              static_cast<CUarray_format>(format), channels, device);
  std::get<0>(*out) = width;
  return r;
}

}  // namespace gpupool::server
