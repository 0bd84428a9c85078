// Init, versions, error names and device queries.
#include <cstdio>
#include <cstring>

#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/attributes.h"

namespace gpupool::server::emulated {
namespace {

constexpr int kDriverVersion = 13000;

struct ResultName {
  CUresult code;
  const char* name;
  const char* description;
};
constexpr ResultName kResultNames[] = {
#define GPUPOOL_CU_RESULT(code, description) {code, #code, description},
#include "remoting/server/emulated/result_names.def"
#undef GPUPOOL_CU_RESULT
};

const ResultName* FindResult(CUresult code) {
  for (const ResultName& r : kResultNames) {
    if (r.code == code) return &r;
  }
  return nullptr;
}

CUresult Init(unsigned flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_EMULATED_LOCK();
  if (GetState().devices.empty()) return CUDA_ERROR_NO_DEVICE;
  GetState().initialized = true;
  return CUDA_SUCCESS;
}

CUresult DriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = kDriverVersion;
  return CUDA_SUCCESS;
}

CUresult GetErrorName(CUresult error, const char** out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ResultName* r = FindResult(error);
  *out = r ? r->name : nullptr;
  return r ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult GetErrorString(CUresult error, const char** out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ResultName* r = FindResult(error);
  *out = r ? r->description : nullptr;
  return r ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// Device functions: initialised, output pointer present, device valid.
#define GPUPOOL_DEVICE_CHECK(out, dev)                   \
  GPUPOOL_EMULATED_LOCK();                               \
  GPUPOOL_EMULATED_REQUIRE_INIT();                       \
  if ((out) == nullptr) return CUDA_ERROR_INVALID_VALUE; \
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE

CUresult DeviceGet(CUdevice* device, int ordinal) {
  GPUPOOL_DEVICE_CHECK(device, ordinal);
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult DeviceGetCount(int* count) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = static_cast<int>(GetState().devices.size());
  return CUDA_SUCCESS;
}

CUresult DeviceGetName(char* name, int length, CUdevice dev) {
  GPUPOOL_DEVICE_CHECK(name, dev);
  if (length <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::snprintf(name, static_cast<std::size_t>(length), "%s", GetState().devices[dev].name.c_str());
  return CUDA_SUCCESS;
}

CUresult DeviceGetUuid(CUuuid* uuid, CUdevice dev) {
  GPUPOOL_DEVICE_CHECK(uuid, dev);
  *uuid = GetState().devices[dev].uuid;
  return CUDA_SUCCESS;
}

CUresult DeviceTotalMem(size_t* bytes, CUdevice dev) {
  GPUPOOL_DEVICE_CHECK(bytes, dev);
  if (LostDevice(dev)) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  *bytes = GetState().devices[dev].memory->capacity();
  return CUDA_SUCCESS;
}

CUresult DeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice dev) {
  GPUPOOL_DEVICE_CHECK(value, dev);
  if (LostDevice(dev)) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  return DeviceAttribute(attribute, GetState().devices[dev].pci_bus, value);
}

CUresult DeviceGetPCIBusId(char* bus_id, int length, CUdevice dev) {
  GPUPOOL_DEVICE_CHECK(bus_id, dev);
  if (length <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::snprintf(bus_id, static_cast<std::size_t>(length), "%04X:%02X:00.0", 0,
                GetState().devices[dev].pci_bus);
  return CUDA_SUCCESS;
}

CUresult DeviceCanAccessPeer(int* can, CUdevice dev, CUdevice peer) {
  GPUPOOL_DEVICE_CHECK(can, dev);
  if (!ValidDevice(peer)) return CUDA_ERROR_INVALID_DEVICE;
  *can = dev != peer ? 1 : 0;  // NVLink-connected board; a device is not its own peer
  return CUDA_SUCCESS;
}

CUresult DeviceGetP2PAttribute(int* value, CUdevice_P2PAttribute attribute, CUdevice src, CUdevice dst) {
  GPUPOOL_DEVICE_CHECK(value, src);
  if (!ValidDevice(dst) || src == dst) return CUDA_ERROR_INVALID_DEVICE;
  switch (attribute) {
    case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK: *value = 0; return CUDA_SUCCESS;
    case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED:
    case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED:
    case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED: *value = 1; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace

void FillDeviceApi(DriverApi& api) {
  api.cuInit = Init;
  api.cuDriverGetVersion = DriverGetVersion;
  api.cuGetErrorName = GetErrorName;
  api.cuGetErrorString = GetErrorString;
  api.cuDeviceGet = DeviceGet;
  api.cuDeviceGetCount = DeviceGetCount;
  api.cuDeviceGetName = DeviceGetName;
  api.cuDeviceGetUuid_v2 = DeviceGetUuid;
  api.cuDeviceTotalMem_v2 = DeviceTotalMem;
  api.cuDeviceGetAttribute = DeviceGetAttribute;
  api.cuDeviceGetPCIBusId = DeviceGetPCIBusId;
  api.cuDeviceCanAccessPeer = DeviceCanAccessPeer;
  api.cuDeviceGetP2PAttribute = DeviceGetP2PAttribute;
}

}  // namespace gpupool::server::emulated
