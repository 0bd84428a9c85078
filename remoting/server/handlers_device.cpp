// Handlers: driver version and device queries. Devices are ordinals; the driver checks them.
#include "remoting/server/dispatch.h"

namespace gpupool::server {

GPUPOOL_HANDLER(DriverGetVersion) {
  return GPUPOOL_DRIVER(s, cuDriverGetVersion, &std::get<0>(*out));
}

GPUPOOL_HANDLER(DeviceGetCount) {
  return GPUPOOL_DRIVER(s, cuDeviceGetCount, &std::get<0>(*out));
}

GPUPOOL_HANDLER(DeviceGetName) {
  char name[256] = {};
  CUresult r = GPUPOOL_DRIVER(s, cuDeviceGetName, name, sizeof name - 1, std::get<0>(in));
  std::get<0>(*out) = name;
  return r;
}

GPUPOOL_HANDLER(DeviceGetUuid) {
  CUuuid uuid{};
  CUresult r = GPUPOOL_DRIVER(s, cuDeviceGetUuid_v2, &uuid, std::get<0>(in));
  std::get<0>(*out).assign(uuid.bytes, sizeof uuid.bytes);
  return r;
}

GPUPOOL_HANDLER(DeviceTotalMem) {
  std::size_t total = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuDeviceTotalMem_v2, &total, std::get<0>(in));
  // A session with a memory share sees its share as the device's memory, as cuMemGetInfo does.
  const std::uint64_t limit = s.MemoryLimit(static_cast<int>(std::get<0>(in)));
  if (limit != 0 && limit < total) total = limit;
  std::get<0>(*out) = total;
  return r;
}

GPUPOOL_HANDLER(DeviceGetAttribute) {
  const auto& [attrib, dev] = in;
  CUdevice_attribute a{};
  if (CUresult r = ClientEnum(attrib, 1, CU_DEVICE_ATTRIBUTE_MAX, &a); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuDeviceGetAttribute, &std::get<0>(*out), a, dev);
}

GPUPOOL_HANDLER(DeviceGetAttributes) {
  auto& [values, results] = *out;
  values.assign(CU_DEVICE_ATTRIBUTE_MAX, 0);
  results.assign(CU_DEVICE_ATTRIBUTE_MAX, CUDA_ERROR_INVALID_VALUE);
  for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; ++a) {
    CUresult r = GPUPOOL_DRIVER(s, cuDeviceGetAttribute, &values[a], static_cast<CUdevice_attribute>(a),
                                std::get<0>(in));
    if (r == CUDA_ERROR_INVALID_DEVICE || r == CUDA_ERROR_NOT_INITIALIZED) return r;
    results[a] = r;
  }
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(DeviceGetPCIBusId) {
  char id[64] = {};
  CUresult r = GPUPOOL_DRIVER(s, cuDeviceGetPCIBusId, id, sizeof id - 1, std::get<0>(in));
  std::get<0>(*out) = id;
  return r;
}

GPUPOOL_HANDLER(DeviceCanAccessPeer) {
  return GPUPOOL_DRIVER(s, cuDeviceCanAccessPeer, &std::get<0>(*out), std::get<0>(in), std::get<1>(in));
}

GPUPOOL_HANDLER(DeviceGetP2PAttribute) {
  const auto& [attrib, src, dst] = in;
  CUdevice_P2PAttribute a{};
  if (CUresult r = ClientEnum(attrib, CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK,
                              CU_DEVICE_P2P_ATTRIBUTE_ONLY_PARTIAL_NATIVE_ATOMIC_SUPPORTED + 1, &a);
      r != CUDA_SUCCESS)
    return r;
  return GPUPOOL_DRIVER(s, cuDeviceGetP2PAttribute, &std::get<0>(*out), a, src, dst);
}

}  // namespace gpupool::server
