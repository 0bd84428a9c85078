// The devices the process's gpupool server shows it, read through a session of NVML's own that ends
// before ReadDevices returns. NVIDIA's NVML does not initialise CUDA, and programs rely on it: a child
// forked after the parent's cuInit cannot use CUDA, so PyTorch counts devices through NVML before it
// forks data loader workers or training processes. Reading them through libcuda.so.1 would initialise
// the process's CUDA; a session of NVML's own leaves it alone. That session asks for no shared memory
// with the server and costs it one short-lived worker. A process whose CUDA is initialised already
// (PyTorch's before it starts NCCL) is answered by its own libcuda.so.1 instead: no session at all.
//
// Thread-safety: ReadDevices may run on several threads at once (each has its own session).
#pragma once

#include "remoting/client/nvml/devices.h"

namespace gpupool::nvml {

// Fills `devices` (`*count` of them) and `*driver_version`. NVML_ERROR_DRIVER_NOT_LOADED, with the
// reason logged, when no server can be reached; NVML_ERROR_GPU_NOT_FOUND when it shows no GPU, unless
// `flags` has NVML_INIT_FLAG_NO_GPUS.
nvmlReturn_t ReadDevices(unsigned flags, DeviceTable* devices, unsigned* count, int* driver_version);

}  // namespace gpupool::nvml
