// Handlers: CUDA arrays. An array is a session-owned id like every other handle; its extent is kept
// so copies can be bounds-checked (handlers_copy_3d.cpp), and its bytes count against the session's
// memory limit like an allocation's.
#include "remoting/server/dispatch.h"

namespace gpupool::server {
namespace {

// Forgets a destroyed array and gives its bytes back to the quota.
void ForgetArray(Session& s, std::uint64_t id) {
  s.arrays.Remove(id);
  s.array_extents.erase(id);
  auto charge = s.array_charges.find(id);
  if (charge != s.array_charges.end()) {
    s.array_bytes -= charge->second;
    s.array_charges.erase(charge);
  }
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
  if (width > UINT64_MAX / element || __builtin_mul_overflow(extent.row_bytes, extent.rows, &bytes) ||
      __builtin_mul_overflow(bytes, extent.slices, &bytes)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (CUresult r = s.CheckQuota(bytes); r != CUDA_SUCCESS) return r;
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  desc.Width = width;
  desc.Height = height;
  desc.Depth = depth;
  desc.Format = static_cast<CUarray_format>(format);  // one of the values ArrayElementBytes knows
  desc.NumChannels = channels;
  desc.Flags = flags;
  CUarray array = nullptr;
  if (CUresult r = GPUPOOL_DRIVER(s, cuArray3DCreate_v2, &array, &desc); r != CUDA_SUCCESS) return r;
  const std::uint64_t id = s.arrays.Add(array);
  s.array_extents[id] = extent;
  s.array_charges[id] = bytes;
  s.array_bytes += bytes;
  s.PublishMemory();
  std::get<0>(*out) = id;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(ArrayDestroy) {
  const std::uint64_t id = std::get<0>(in);
  CUarray array = nullptr;
  if (CUresult r = s.Array(id, &array); r != CUDA_SUCCESS) return r;
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
