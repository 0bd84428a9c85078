#include "remoting/client/nvml/devices.h"

#include "common/fork_safe.h"
#include "common/log.h"
#include "remoting/client/nvml/snapshot.h"

namespace gpupool::nvml {

nvmlReturn_t FromCuda(CUresult result) {
  switch (result) {
    case CUDA_SUCCESS: return NVML_SUCCESS;
    case CUDA_ERROR_INVALID_VALUE:
    case CUDA_ERROR_INVALID_DEVICE: return NVML_ERROR_INVALID_ARGUMENT;
    case CUDA_ERROR_NOT_SUPPORTED: return NVML_ERROR_NOT_SUPPORTED;
    case CUDA_ERROR_OUT_OF_MEMORY: return NVML_ERROR_MEMORY;
    case CUDA_ERROR_NOT_INITIALIZED:
    case CUDA_ERROR_DEINITIALIZED: return NVML_ERROR_UNINITIALIZED;
    case CUDA_ERROR_NO_DEVICE: return NVML_ERROR_GPU_NOT_FOUND;
    default: return NVML_ERROR_UNKNOWN;
  }
}

namespace {

constinit Library g_library;
[[maybe_unused]] const bool g_ready_for_fork = (HoldAcrossFork(g_library.mutex()), true);

}  // namespace

Library& Library::Get() {
  return g_library;
}

nvmlReturn_t Library::Init(unsigned flags) {
  if ((flags & ~(NVML_INIT_FLAG_NO_GPUS | NVML_INIT_FLAG_NO_ATTACH)) != 0) return NVML_ERROR_INVALID_ARGUMENT;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (read_) {
      ++initialised_;
      return NVML_SUCCESS;
    }
  }
  // Not under the lock: it waits for the server (snapshot.h), and a fork meanwhile must find the lock
  // free. Two first calls at once each read; the first to finish is kept.
  DeviceTable devices{};
  unsigned count = 0;
  int driver_version = 0;
  if (nvmlReturn_t r = ReadDevices(flags, &devices, &count, &driver_version); r != NVML_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(mu_);
  if (!read_) {
    devices_ = devices;
    count_ = count;
    driver_version_ = driver_version;
    read_ = true;
  }
  ++initialised_;
  return NVML_SUCCESS;
}

nvmlReturn_t Library::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  if (initialised_ == 0) return NVML_ERROR_UNINITIALIZED;
  --initialised_;
  return NVML_SUCCESS;
}

nvmlReturn_t Library::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return initialised_ > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
}

int Library::driver_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return driver_version_;
}

unsigned Library::Count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

nvmlDevice_t Library::At(unsigned index) {
  std::lock_guard<std::mutex> lock(mu_);
  return index < count_ ? &devices_[index] : nullptr;
}

const nvmlDevice_st* Library::Find(nvmlDevice_t handle) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (unsigned i = 0; i < count_; ++i) {
    if (&devices_[i] == handle) return &devices_[i];
  }
  return nullptr;
}

nvmlReturn_t CheckDevice(nvmlDevice_t handle, const void* out, const nvmlDevice_st** device) {
  const Library& library = Library::Get();
  if (nvmlReturn_t r = library.Ready(); r != NVML_SUCCESS) return r;
  *device = library.Find(handle);
  if (*device == nullptr || out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return NVML_SUCCESS;
}

}  // namespace gpupool::nvml
