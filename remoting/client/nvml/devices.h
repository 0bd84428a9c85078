// The state of gpupool's NVML (libnvidia-ml.so.1): whether the program initialised it, and one handle
// per device its gpupool server shows it. The devices are read as libcuda.so.1 reads them
// (remoting/client/device_facts.h), from the same server with the same credentials, so NVML and CUDA
// never disagree about a device (its name, UUID, memory share, compute capability, PCI address); but
// through a short session of NVML's own (snapshot.h), so that nvmlInit leaves the process's CUDA
// uninitialised, as NVIDIA's NVML does.
//
// Thread-safety: every member is safe to call from any thread.
#pragma once

#include <cuda.h>

#include <array>
#include <mutex>

#include "remoting/client/nvml/nvml_abi.h"
#include "remoting/client/nvml/pci_bus_id.h"

// What an nvmlDevice_t points to: a device as the first successful nvmlInit found it, kept until the
// process ends (NVML's handles stay valid across nvmlShutdown and a later nvmlInit). What it holds
// does not change while a session lasts; memory, which does, is asked for when wanted.
struct nvmlDevice_st {
  unsigned index = 0;  // also its CUDA ordinal, in the process's own driver too
  char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = {};
  char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = {};  // "GPU-…"
  gpupool::nvml::PciAddress pci;
  int major = 0, minor = 0;             // compute capability
  unsigned long long total_memory = 0;  // the session's memory share where it has one
  unsigned long long peers = 0;         // bit j: CUDA says it can access device j's memory
};

namespace gpupool::nvml {

// As many GPUs as CUDA_VISIBLE_DEVICES may name; more are left out, with a warning.
inline constexpr unsigned kMaxDevices = 64;
using DeviceTable = std::array<nvmlDevice_st, kMaxDevices>;

// A CUDA error as NVML reports it.
nvmlReturn_t FromCuda(CUresult result);

// Constant-initialised and trivially destroyed, so it exists before any constructor runs and after
// every destructor (a program may call NVML from either), and a fork cannot catch it half made. Its
// lock is held across fork() (common/fork_safe.h), and never while the driver is called: a child
// forked while another thread waited for the server in nvmlInit still gets its own answer.
class Library {
 public:
  static Library& Get();

  // nvmlInitWithFlags: counted, as NVML's is; the first successful call reads the devices.
  nvmlReturn_t Init(unsigned flags);
  // NVML_ERROR_UNINITIALIZED when there are more shutdowns than initialisations.
  nvmlReturn_t Shutdown();

  // NVML_SUCCESS while initialised, else NVML_ERROR_UNINITIALIZED.
  nvmlReturn_t Ready() const;
  // The handles, in CUDA's ordinal order (0 when initialised with NVML_INIT_FLAG_NO_GPUS and no device).
  unsigned Count() const;
  nvmlDevice_t At(unsigned index);
  // `handle` when it is one of ours, else nullptr: a handle the program passes back is never trusted.
  const nvmlDevice_st* Find(nvmlDevice_t handle) const;

  int driver_version() const;  // cuDriverGetVersion's answer, the server's

  std::mutex* mutex() { return &mu_; }

 private:
  mutable std::mutex mu_;
  int initialised_ = 0;  // nvmlInit calls minus nvmlShutdown calls
  bool read_ = false;    // the devices were read (by the first successful nvmlInit)
  int driver_version_ = 0;
  unsigned count_ = 0;
  DeviceTable devices_{};
};

// The checks every device query starts with: initialised, `handle` ours, `out` (when given) not null.
// On success `*device` is the handle's device.
nvmlReturn_t CheckDevice(nvmlDevice_t handle, const void* out, const nvmlDevice_st** device);

}  // namespace gpupool::nvml
