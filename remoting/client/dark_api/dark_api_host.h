// DarkApiHost: what the private export tables need from the driver they are part of. The client
// libcuda.so.1 implements it over its own state (cached device data, its contexts, its module
// loader); tests implement it with a fake. The tables never see the client's internals.
//
// Thread-safety: implementations must be safe to call from any thread, concurrently; slots run on
// the application's threads. Every method answers as the public driver call it names would, and
// returns that call's CUresult.
//
// Speed: the runtime reaches CurrentContext and CheckContext (through context-local storage) on
// nearly every runtime API call; answer them from local state, never with a round trip.
#pragma once

#include <cuda.h>

#include <vector>

namespace gpupool::dark_api {

// What the integrity check hashes for each device.
struct DeviceIdentity {
  CUuuid uuid{};       // cuDeviceGetUuid
  int pci_domain = 0;  // CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID
  int pci_bus = 0;     // CU_DEVICE_ATTRIBUTE_PCI_BUS_ID
  int pci_device = 0;  // CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID
};

class DarkApiHost {
 public:
  virtual ~DarkApiHost() = default;

  // cuDriverGetVersion.
  virtual CUresult DriverVersion(int* version) = 0;
  // cuDeviceGetCount.
  virtual CUresult DeviceCount(int* count) = 0;
  virtual CUresult Identity(CUdevice device, DeviceIdentity* identity) = 0;
  // The device's primary context handle without retaining it. The runtime asks before it retains
  // the context and keeps the handle, so it must be the same handle cuDevicePrimaryCtxRetain
  // returns, for the whole life of the process (across release and reset).
  virtual CUresult PrimaryContext(CUdevice device, CUcontext* context) = 0;
  // cuCtxGetCurrent: the calling thread's current context, nullptr when it has none.
  virtual CUresult CurrentContext(CUcontext* context) = 0;
  // CUDA_SUCCESS when `context` is a live context of this process, else CUDA_ERROR_INVALID_CONTEXT.
  virtual CUresult CheckContext(CUcontext context) = 0;
  // cuCtxGetId: an id no other context of this process has or had.
  virtual CUresult ContextId(CUcontext context, unsigned long long* id) = 0;
  // A number naming `stream` among this process's live streams, equal for the same stream and
  // different for different ones; CU_STREAM_LEGACY and CU_STREAM_PER_THREAD name `context`'s default
  // streams. CUDA_ERROR_INVALID_CONTEXT or CUDA_ERROR_INVALID_HANDLE when either is not live.
  // Answered locally: libraries ask on every call they make on a stream.
  virtual CUresult StreamIdentity(CUcontext context, CUstream stream, unsigned long long* id) = 0;
  // cuModuleGetFunctionCount, then cuModuleEnumerateFunctions: every function of `module`.
  virtual CUresult ModuleFunctions(CUmodule module, std::vector<CUfunction>* functions) = 0;
  // cuModuleLoadData into the current context, from an image the runtime registered: a fatbin
  // wrapper (magic 0x466243b1) or a fatbin (magic 0xba55ed50). The image stays valid while the
  // module is loaded (it lives in the application's binary).
  virtual CUresult LoadModule(const void* image, CUmodule* module) = 0;
};

}  // namespace gpupool::dark_api
