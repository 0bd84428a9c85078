// The state of gpupool's NVML (libnvidia-ml.so.1): whether the program initialised it, and one handle
// per device of the CUDA driver the process uses, gpupool's libcuda.so.1. Every answer is that
// driver's, asked through its public API, so NVML and CUDA never disagree about a device (its name,
// UUID, memory share, compute capability, PCI address).
//
// Thread-safety: every member is safe to call from any thread.
#pragma once

#include <cuda.h>

#include <array>
#include <mutex>

#include "remoting/client/nvml/nvml_abi.h"

// What an nvmlDevice_t points to. Made at the first successful nvmlInit and kept until the process
// ends: NVML's handles stay valid across nvmlShutdown and a later nvmlInit.
struct nvmlDevice_st {
  CUdevice device = 0;
  unsigned index = 0;
};

namespace gpupool::nvml {

// A CUDA error as NVML reports it.
nvmlReturn_t FromCuda(CUresult result);

// Constant-initialised and trivially destroyed, so it exists before any constructor runs and after
// every destructor (a program may call NVML from either), and a fork cannot catch it half made. Its
// lock is held across fork() (common/fork_safe.h), and never while the driver is called: a child
// forked while another thread waited for the server in nvmlInit still gets its own answer.
class Library {
 public:
  static Library& Get();

  // nvmlInitWithFlags: counted, as NVML's is; the first call initialises the driver (cuInit connects
  // to the gpupool server) and makes the device handles.
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

  std::mutex* mutex() { return &mu_; }

  // As many GPUs as CUDA_VISIBLE_DEVICES may name; more are left out, with a warning.
  static constexpr unsigned kMaxDevices = 64;

 private:
  mutable std::mutex mu_;
  int initialised_ = 0;  // nvmlInit calls minus nvmlShutdown calls
  unsigned count_ = 0;
  std::array<nvmlDevice_st, kMaxDevices> devices_{};
};

// The checks every device query starts with: initialised, `handle` ours, `out` (when given) not null.
// On success `*device` is the handle's device.
nvmlReturn_t CheckDevice(nvmlDevice_t handle, const void* out, const nvmlDevice_st** device);

}  // namespace gpupool::nvml
