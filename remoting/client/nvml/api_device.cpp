// NVML's device queries: the devices as nvmlInit read them from the gpupool server (the remote GPU, or
// the share of it the pod was given), memory from the process's own CUDA when it has a context.
#include <unistd.h>

#include <cstring>
#include <string>
#include <type_traits>

#include "remoting/client/nvml/api_support.h"
#include "remoting/client/nvml/pci_bus_id.h"

using gpupool::nvml::CheckDevice;
using gpupool::nvml::FromCuda;

namespace {

// Copies `text` and its terminator into the program's buffer of `length` bytes.
nvmlReturn_t CopyText(const char* text, char* out, unsigned length) {
  const std::size_t size = std::strlen(text) + 1;
  if (size > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, text, size);
  return NVML_SUCCESS;
}

// The device's PCI address in both of NVML's forms. The PCI device id (the upper half of pciDeviceId)
// is not something the CUDA driver reports, so only NVIDIA's vendor id is filled in.
void PciInfo(const nvmlDevice_st& d, nvmlPciInfo_t* info) {
  nvmlPciInfo_t filled{};
  std::snprintf(filled.busIdLegacy, sizeof filled.busIdLegacy, "%s",
                gpupool::nvml::FormatPciBusId(d.pci, 4).c_str());
  std::snprintf(filled.busId, sizeof filled.busId, "%s", gpupool::nvml::FormatPciBusId(d.pci, 8).c_str());
  filled.domain = d.pci.domain;
  filled.bus = d.pci.bus;
  filled.device = d.pci.device;
  constexpr unsigned kNvidiaVendorId = 0x10de;
  filled.pciDeviceId = kNvidiaVendorId;
  *info = filled;
}

// Memory as cuMemGetInfo reports it to this process: total is the pod's memory share (or the whole
// GPU without one), free what the share has left. Asked of the process's own CUDA when it has a
// context on the device (the current one, or the device's primary context); a process without one
// holds no memory in its session, so everything is free. NVML initialises nothing to find out: not
// the process's CUDA (snapshot.h), nor a context on the server.
// *asked: whether the process has such a context (it holds memory in a session, and is one of the
// device's processes).
nvmlReturn_t Memory(const nvmlDevice_st& d, unsigned long long* total, unsigned long long* free_bytes,
                    bool* asked = nullptr) {
  *total = d.total_memory;
  *free_bytes = d.total_memory;
  if (asked != nullptr) *asked = false;
  // cuMemGetInfo in the context current now.
  auto ask = [&] {
    std::size_t free_now = 0, total_now = 0;
    const CUresult r = cuMemGetInfo(&free_now, &total_now);
    if (r == CUDA_SUCCESS) *free_bytes = free_now, *total = total_now;
    if (asked != nullptr) *asked = r == CUDA_SUCCESS;
    return FromCuda(r);
  };
  const auto device = static_cast<CUdevice>(d.index);
  CUcontext current = nullptr;
  CUdevice current_device = -1;
  if (cuCtxGetCurrent(&current) == CUDA_SUCCESS && current != nullptr &&
      cuCtxGetDevice(&current_device) == CUDA_SUCCESS && current_device == device)
    return ask();
  unsigned flags = 0;
  int active = 0;
  if (cuDevicePrimaryCtxGetState(device, &flags, &active) != CUDA_SUCCESS || active == 0) return NVML_SUCCESS;
  CUcontext primary = nullptr;
  if (CUresult r = cuDevicePrimaryCtxRetain(&primary, device); r != CUDA_SUCCESS) return FromCuda(r);
  nvmlReturn_t answer = FromCuda(cuCtxPushCurrent(primary));
  if (answer == NVML_SUCCESS) {
    answer = ask();
    CUcontext popped = nullptr;
    cuCtxPopCurrent(&popped);
  }
  cuDevicePrimaryCtxRelease(device);
  return answer;
}

}  // namespace

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t handle, unsigned int* index) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, index, &d));
  *index = d->index;
  return NVML_SUCCESS;
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t handle, char* name, unsigned int length) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, name, &d));
  return CopyText(d->name, name, length);
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t handle, char* uuid, unsigned int length) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, uuid, &d));
  return CopyText(d->uuid, uuid, length);
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t handle, nvmlPciInfo_t* pci) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, pci, &d));
  PciInfo(*d, pci);
  return NVML_SUCCESS;
}
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t handle, nvmlPciInfo_t* pci) {
  return nvmlDeviceGetPciInfo_v3(handle, pci);
}
// The first version's structure ends with four reserved words where busId now is: only the common
// part is written.
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t handle, nvmlPciInfo_t* pci) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, pci, &d));
  nvmlPciInfo_t info{};
  PciInfo(*d, &info);
  std::memcpy(pci, &info, kNvmlPciInfoV1Prefix);
  return NVML_SUCCESS;
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t handle, int* major,
                                                                 int* minor) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, major, &d));
  if (minor == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *major = d->major;
  *minor = d->minor;
  return NVML_SUCCESS;
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t handle, nvmlMemory_t* memory) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, memory, &d));
  nvmlMemory_t m{};
  GPUPOOL_NVML_RETURN_IF_ERROR(Memory(*d, &m.total, &m.free));
  m.used = m.total - m.free;
  *memory = m;
  return NVML_SUCCESS;
}

GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t handle, nvmlMemory_v2_t* memory) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, memory, &d));
  if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  unsigned long long total = 0, free_bytes = 0;
  GPUPOOL_NVML_RETURN_IF_ERROR(Memory(*d, &total, &free_bytes));
  memory->total = total;
  memory->reserved = 0;
  memory->free = free_bytes;
  memory->used = total - free_bytes;
  return NVML_SUCCESS;
}

// Reads and writes between two of the process's GPUs (one server's, in one worker) are what the
// server's driver says of peer access (cuDeviceCanAccessPeer, asked at nvmlInit): NCCL takes its P2P
// transport only where NVML says OK. A device with itself, NVLink and atomics: NOT_SUPPORTED, as NVML
// answers for a GPU without them (gpupool reports no peer atomics either).
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t a, nvmlDevice_t b,
                                                     nvmlGpuP2PCapsIndex_t index,
                                                     nvmlGpuP2PStatus_t* status) {
  const nvmlDevice_st* da = nullptr;
  const nvmlDevice_st* db = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(a, status, &da));
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(b, status, &db));
  if (index < NVML_P2P_CAPS_INDEX_READ || index >= NVML_P2P_CAPS_INDEX_UNKNOWN)
    return NVML_ERROR_INVALID_ARGUMENT;
  const bool peers = da != db && (da->peers >> db->index & 1) != 0;
  const bool reads_or_writes = index == NVML_P2P_CAPS_INDEX_READ || index == NVML_P2P_CAPS_INDEX_WRITE;
  *status = peers && reads_or_writes ? NVML_P2P_STATUS_OK : NVML_P2P_STATUS_NOT_SUPPORTED;
  return NVML_SUCCESS;
}

// A share of a remote GPU has no NVLink to anything in this process: NVML's answer for a GPU without
// NVLink. Not logged: it is the device's answer, not a gap in gpupool.
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t handle, unsigned int, int* active) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, active, &d));
  return NVML_ERROR_NOT_SUPPORTED;
}
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetNvLinkCapability(nvmlDevice_t handle, unsigned int, int,
                                                            unsigned int* result) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, result, &d));
  return NVML_ERROR_NOT_SUPPORTED;
}
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t handle, unsigned int,
                                                                  nvmlPciInfo_t* pci) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, pci, &d));
  return NVML_ERROR_NOT_SUPPORTED;
}
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo(nvmlDevice_t handle, unsigned int link,
                                                               nvmlPciInfo_t* pci) {
  return nvmlDeviceGetNvLinkRemotePciInfo_v2(handle, link, pci);
}

// Each field answers NOT_SUPPORTED: gpupool reports none of NVML's counters. The call itself
// succeeds, as NVML's does when only some fields are available.
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t handle, int count,
                                                       nvmlFieldValue_t* values) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, values, &d));
  if (count < 0) return NVML_ERROR_INVALID_ARGUMENT;
  for (int i = 0; i < count; ++i) {
    values[i].timestamp = 0;
    values[i].latencyUsec = 0;
    values[i].nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
  }
  return NVML_SUCCESS;
}

// The architecture follows from the compute capability, which the devices report as the GPU's.
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t handle, nvmlDeviceArchitecture_t* arch) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, arch, &d));
  switch (d->major) {
    case 3: *arch = NVML_DEVICE_ARCH_KEPLER; break;
    case 5: *arch = NVML_DEVICE_ARCH_MAXWELL; break;
    case 6: *arch = NVML_DEVICE_ARCH_PASCAL; break;
    case 7: *arch = d->minor >= 5 ? NVML_DEVICE_ARCH_TURING : NVML_DEVICE_ARCH_VOLTA; break;
    case 8: *arch = d->minor == 9 ? NVML_DEVICE_ARCH_ADA : NVML_DEVICE_ARCH_AMPERE; break;
    case 9: *arch = NVML_DEVICE_ARCH_HOPPER; break;
    case 10:
    case 12: *arch = NVML_DEVICE_ARCH_BLACKWELL; break;
    default: *arch = NVML_DEVICE_ARCH_UNKNOWN; break;
  }
  return NVML_SUCCESS;
}

// A pod's share is used by as many of its processes as open a context: the default mode.
GPUPOOL_NVML_API nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t handle, nvmlComputeMode_t* mode) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, mode, &d));
  *mode = NVML_COMPUTEMODE_DEFAULT;
  return NVML_SUCCESS;
}

namespace {

// The processes NVML can vouch for: this one, when it has a context on the device, with the memory
// its session holds (what nvmlDeviceGetMemoryInfo counts as used). Other processes, of this pod or
// of others sharing the GPU, run in sessions this process cannot see: the list is the program's own
// view, as a container's NVML lists no process outside its PID namespace by name either.
template <typename Info>
nvmlReturn_t Processes(nvmlDevice_t handle, unsigned* count, Info* infos, bool graphics) {
  const nvmlDevice_st* d = nullptr;
  GPUPOOL_NVML_RETURN_IF_ERROR(CheckDevice(handle, count, &d));
  unsigned long long total = 0, free_bytes = 0;
  bool has_context = false;
  if (!graphics) GPUPOOL_NVML_RETURN_IF_ERROR(Memory(*d, &total, &free_bytes, &has_context));
  const unsigned found = has_context ? 1 : 0;
  if (*count < found) {
    *count = found;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  *count = found;
  if (found == 0) return NVML_SUCCESS;
  if (infos == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  Info info{};
  info.pid = static_cast<unsigned>(getpid());
  info.usedGpuMemory = total - free_bytes;
  if constexpr (std::is_same_v<Info, nvmlProcessInfo_t>) {
    info.gpuInstanceId = 0xffffffffu;
    info.computeInstanceId = 0xffffffffu;
  }
  infos[0] = info;
  return NVML_SUCCESS;
}

}  // namespace

// Each version's entry point (the unsuffixed one fills the first layout), compute and graphics. A remote
// GPU draws nothing here: no graphics process runs on it for this program.
#define GPUPOOL_NVML_PROCESSES(name, Info, graphics)                                          \
  GPUPOOL_NVML_API nvmlReturn_t name(nvmlDevice_t handle, unsigned int* count, Info* infos) { \
    return Processes(handle, count, infos, graphics);                                         \
  }
GPUPOOL_NVML_PROCESSES(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t, false)
GPUPOOL_NVML_PROCESSES(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_t, false)
GPUPOOL_NVML_PROCESSES(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t, false)
GPUPOOL_NVML_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t, true)
GPUPOOL_NVML_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_t, true)
GPUPOOL_NVML_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t, true)
