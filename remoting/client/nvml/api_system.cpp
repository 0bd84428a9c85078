// NVML's library and system calls: initialisation, error strings, versions, device enumeration.
#include <cstring>
#include <string>

#include "common/gpu_uuid.h"
#include "remoting/client/nvml/api_support.h"
#include "remoting/client/nvml/pci_bus_id.h"

using gpupool::nvml::Library;

GPUPOOL_NVML_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
  return Library::Get().Init(flags);
}
GPUPOOL_NVML_API nvmlReturn_t nvmlInit_v2() {
  return Library::Get().Init(0);
}
GPUPOOL_NVML_API nvmlReturn_t nvmlInit() {
  return Library::Get().Init(0);
}
GPUPOOL_NVML_API nvmlReturn_t nvmlShutdown() {
  return Library::Get().Shutdown();
}

GPUPOOL_NVML_API const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "ECC is not supported on this vGPU";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    case NVML_ERROR_NOT_READY: return "Not ready";
    case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
    case NVML_ERROR_INVALID_STATE: return "Invalid state";
    default: return "Unknown Error";
  }
}

// The CUDA driver version, as cuDriverGetVersion gives it (13000 for CUDA 13.0): the gpupool server's.
GPUPOOL_NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* version) {
  GPUPOOL_NVML_RETURN_IF_ERROR(Library::Get().Ready());
  if (version == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *version = Library::Get().driver_version();
  return NVML_SUCCESS;
}
GPUPOOL_NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) {
  return nvmlSystemGetCudaDriverVersion(version);
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  GPUPOOL_NVML_RETURN_IF_ERROR(Library::Get().Ready());
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *count = Library::Get().Count();
  return NVML_SUCCESS;
}
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetCount(unsigned int* count) {
  return nvmlDeviceGetCount_v2(count);
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  GPUPOOL_NVML_RETURN_IF_ERROR(Library::Get().Ready());
  if (device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlDevice_t found = Library::Get().At(index);
  if (found == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *device = found;
  return NVML_SUCCESS;
}
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByIndex_v2(index, device);
}

namespace {

// The first device for which `matches(device)` holds: NVML_ERROR_NOT_FOUND when none does.
template <typename Matches>
nvmlReturn_t FindDevice(nvmlDevice_t* out, Matches matches) {
  Library& library = Library::Get();
  for (unsigned i = 0; i < library.Count(); ++i) {
    nvmlDevice_t d = library.At(i);
    if (matches(*d)) {
      *out = d;
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_NOT_FOUND;
}

}  // namespace

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char* bus_id, nvmlDevice_t* device) {
  GPUPOOL_NVML_RETURN_IF_ERROR(Library::Get().Ready());
  if (bus_id == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const auto wanted = gpupool::nvml::ParsePciBusId(bus_id);
  if (!wanted) return NVML_ERROR_INVALID_ARGUMENT;
  return FindDevice(device, [&](const nvmlDevice_st& d) { return d.pci == *wanted; });
}
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char* bus_id, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByPciBusId_v2(bus_id, device);
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  GPUPOOL_NVML_RETURN_IF_ERROR(Library::Get().Ready());
  if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return FindDevice(device, [&](const nvmlDevice_st& d) { return gpupool::SameGpuUuid(d.uuid, uuid); });
}
