#include "remoting/client/nvml/devices.h"

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

Library& Library::Get() {
  static Library library;
  return library;
}

nvmlReturn_t Library::Init(unsigned flags) {
  if ((flags & ~(NVML_INIT_FLAG_NO_GPUS | NVML_INIT_FLAG_NO_ATTACH)) != 0) return NVML_ERROR_INVALID_ARGUMENT;
  std::lock_guard<std::mutex> lock(mu_);
  if (initialised_ > 0) {
    ++initialised_;
    return NVML_SUCCESS;
  }
  // NVML's "driver" is gpupool's: cuInit reaches the server, or says why it cannot.
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
  for (int i = static_cast<int>(devices_.size()); i < count; ++i) {
    auto d = std::make_unique<nvmlDevice_st>();
    if (CUresult got = cuDeviceGet(&d->device, i); got != CUDA_SUCCESS) return FromCuda(got);
    d->index = static_cast<unsigned>(i);
    devices_.push_back(std::move(d));
  }
  initialised_ = 1;
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
  return static_cast<unsigned>(devices_.size());
}

nvmlDevice_t Library::At(unsigned index) const {
  std::lock_guard<std::mutex> lock(mu_);
  return index < devices_.size() ? devices_[index].get() : nullptr;
}

const nvmlDevice_st* Library::Find(nvmlDevice_t handle) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& d : devices_) {
    if (d.get() == handle) return d.get();
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
