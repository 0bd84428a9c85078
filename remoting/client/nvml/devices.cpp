#include "remoting/client/nvml/devices.h"

#include <algorithm>

#include "common/fork_safe.h"
#include "common/log.h"

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
  // NVML's "driver" is gpupool's: cuInit reaches the server, or says why it cannot. It is cheap once
  // done, and safe to call from several threads at once.
  int count = 0;
  CUresult r = cuInit(0);
  if (r == CUDA_SUCCESS) r = cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS && !(r == CUDA_ERROR_NO_DEVICE && (flags & NVML_INIT_FLAG_NO_GPUS) != 0)) {
    const char* name = nullptr;
    cuGetErrorName(r, &name);
    GPUPOOL_LOG(kWarn) << "nvmlInit: the CUDA driver did not start ("
                       << (name != nullptr ? name : "unknown error") << "), so NVML has no GPU to report";
    // gpupool's cuInit answers CUDA_ERROR_NO_DEVICE when the server cannot be reached, too.
    return NVML_ERROR_DRIVER_NOT_LOADED;
  }
  if (count == 0 && (flags & NVML_INIT_FLAG_NO_GPUS) == 0) return NVML_ERROR_GPU_NOT_FOUND;
  if (static_cast<unsigned>(count) > kMaxDevices) {
    GPUPOOL_LOG_ONCE(kWarn, "nvml-max-devices")
        << "NVML reports the first " << kMaxDevices << " of the driver's " << count << " GPUs";
    count = kMaxDevices;
  }
  std::array<CUdevice, kMaxDevices> devices{};
  for (int i = 0; i < count; ++i) {
    if (CUresult got = cuDeviceGet(&devices[static_cast<std::size_t>(i)], i); got != CUDA_SUCCESS) {
      return FromCuda(got);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (unsigned i = count_; i < static_cast<unsigned>(count); ++i) devices_[i] = nvmlDevice_st{devices[i], i};
  count_ = std::max(count_, static_cast<unsigned>(count));
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
