// Device queries, answered from the cache cuInit filled (no round trip).
#include <cstdio>
#include <cstring>

#include "remoting/client/api_support.h"

using namespace gpupool::client;

GPUPOOL_API CUresult cuDeviceGetCount(int* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *count = State::Get().device_count();
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* found = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &found));
  *device = ordinal;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceGetName(char* name, int length, CUdevice ordinal) {
  if (name == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  std::snprintf(name, static_cast<std::size_t>(length), "%s", device->name.c_str());
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice ordinal) {
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  *uuid = device->uuid;
  return CUDA_SUCCESS;
}

#undef cuDeviceGetUuid
GPUPOOL_API CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice ordinal) {
  return cuDeviceGetUuid_v2(uuid, ordinal);
}

GPUPOOL_API CUresult cuDeviceTotalMem(size_t* bytes, CUdevice ordinal) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  *bytes = device->total_memory;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice ordinal) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  if (attribute <= 0 || attribute >= CU_DEVICE_ATTRIBUTE_MAX) return CUDA_ERROR_INVALID_VALUE;
  const auto result = static_cast<CUresult>(device->attribute_results[attribute]);
  if (result != CUDA_SUCCESS) return result;
  *value = device->attributes[attribute];
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice ordinal) {
  if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  *major = device->attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
  *minor = device->attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceGetPCIBusId(char* bus_id, int length, CUdevice ordinal) {
  if (bus_id == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  std::snprintf(bus_id, static_cast<std::size_t>(length), "%s", device->pci_bus_id.c_str());
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceCanAccessPeer(int* can, CUdevice ordinal, CUdevice peer) {
  if (can == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(peer, &device));
  protocol::Call<Op::DeviceCanAccessPeer>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::DeviceCanAccessPeer>(0, {ordinal, peer}, &reply));
  *can = std::get<0>(reply);
  return CUDA_SUCCESS;
}

namespace {

// "0000:3b:00.0" or "3b:00.0" -> (domain, bus, device); false when malformed.
bool ParseBusId(const char* text, unsigned parts[3]) {
  unsigned function = 0;
  if (std::sscanf(text, "%x:%x:%x.%x", &parts[0], &parts[1], &parts[2], &function) == 4) return true;
  parts[0] = 0;
  return std::sscanf(text, "%x:%x.%x", &parts[1], &parts[2], &function) == 3;
}

}  // namespace

GPUPOOL_API CUresult cuDeviceGetByPCIBusId(CUdevice* device, const char* bus_id) {
  if (device == nullptr || bus_id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  unsigned wanted[3];
  if (!ParseBusId(bus_id, wanted)) return CUDA_ERROR_INVALID_VALUE;
  for (int i = 0; i < State::Get().device_count(); ++i) {
    unsigned have[3];
    if (ParseBusId(State::Get().device(i)->pci_bus_id.c_str(), have) && have[0] == wanted[0] &&
        have[1] == wanted[1] && have[2] == wanted[2]) {
      *device = i;
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_DEVICE;
}
