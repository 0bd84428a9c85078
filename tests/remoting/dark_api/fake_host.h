// FakeDarkApiHost: an in-memory DarkApiHost for the dark API tests: N devices with fixed
// identities, one primary context per device plus contexts tests create, a current context per
// thread, and a module loader that records what it was given.
//
// Thread-safety: as DarkApiHost requires (a mutex guards the shared state; the current context is
// thread-local).
#pragma once

#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "remoting/client/dark_api/dark_api_host.h"

namespace gpupool::dark_api::testing {

class FakeDarkApiHost : public DarkApiHost {
 public:
  explicit FakeDarkApiHost(int devices = 1) {
    for (int i = 0; i < devices; ++i) {
      DeviceIdentity identity;
      for (int b = 0; b < 16; ++b) identity.uuid.bytes[b] = static_cast<char>(0x10 * (i + 1) + b);
      identity.pci_domain = 0;
      identity.pci_bus = 0x19 + i;
      identity.pci_device = 0;
      identities_.push_back(identity);
      primary_.push_back(NewContext());
    }
  }

  CUresult DriverVersion(int* version) override {
    *version = driver_version;
    return fail_with;
  }
  CUresult DeviceCount(int* count) override {
    *count = static_cast<int>(identities_.size());
    return fail_with;
  }
  CUresult Identity(CUdevice device, DeviceIdentity* identity) override {
    if (device < 0 || device >= static_cast<int>(identities_.size())) return CUDA_ERROR_INVALID_DEVICE;
    *identity = identities_[static_cast<std::size_t>(device)];
    return CUDA_SUCCESS;
  }
  CUresult PrimaryContext(CUdevice device, CUcontext* context) override {
    if (device < 0 || device >= static_cast<int>(primary_.size())) return CUDA_ERROR_INVALID_DEVICE;
    *context = primary_[static_cast<std::size_t>(device)];
    return CUDA_SUCCESS;
  }
  CUresult CurrentContext(CUcontext* context) override {
    *context = current_;
    return CUDA_SUCCESS;
  }
  CUresult CheckContext(CUcontext context) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Context& c : contexts_) {
      if (AsHandle(c) == context) return c.live ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
    }
    return CUDA_ERROR_INVALID_CONTEXT;
  }
  CUresult ContextId(CUcontext context, unsigned long long* id) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Context& c : contexts_) {
      if (AsHandle(c) == context) {
        *id = c.id;
        return CUDA_SUCCESS;
      }
    }
    return CUDA_ERROR_INVALID_CONTEXT;
  }
  CUresult StreamIdentity(CUcontext context, CUstream stream, unsigned long long* id) override {
    if (CheckContext(context) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_CONTEXT;
    std::lock_guard<std::mutex> lock(mu_);
    if (stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) {
      for (const Context& c : contexts_) {
        if (AsHandle(c) == context) *id = c.id * 4 + (stream == CU_STREAM_LEGACY ? 1 : 2);
      }
      return CUDA_SUCCESS;
    }
    for (std::size_t i = 0; i < streams_.size(); ++i) {
      if (AsStream(i) == stream) {
        if (!streams_[i]) return CUDA_ERROR_INVALID_HANDLE;
        *id = 1'000'000 + i;
        return CUDA_SUCCESS;
      }
    }
    return CUDA_ERROR_INVALID_HANDLE;
  }
  // A loaded module has `functions_per_module` functions, numbered after it.
  CUresult ModuleFunctions(CUmodule module, std::vector<CUfunction>* functions) override {
    std::lock_guard<std::mutex> lock(mu_);
    const auto index = reinterpret_cast<std::uintptr_t>(module) - 0x1000;
    if (index == 0 || index > loaded_images.size()) return CUDA_ERROR_INVALID_HANDLE;
    functions->clear();
    for (int i = 0; i < functions_per_module; ++i) {
      functions->push_back(reinterpret_cast<CUfunction>(index * 0x100 + static_cast<std::uintptr_t>(i)));
    }
    return CUDA_SUCCESS;
  }
  CUresult LoadModule(const void* image, CUmodule* module) override {
    std::lock_guard<std::mutex> lock(mu_);
    loaded_images.push_back(image);
    *module = reinterpret_cast<CUmodule>(static_cast<std::uintptr_t>(0x1000 + loaded_images.size()));
    return CUDA_SUCCESS;
  }

  // A new live context (not current anywhere).
  CUcontext NewContext() {
    std::lock_guard<std::mutex> lock(mu_);
    contexts_.push_back(Context{next_id_++, true});
    return AsHandle(contexts_.back());
  }
  void Kill(CUcontext context) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Context& c : contexts_) {
      if (AsHandle(c) == context) c.live = false;
    }
  }
  // A new live stream, and its end.
  CUstream NewStream() {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.push_back(true);
    return AsStream(streams_.size() - 1);
  }
  void DestroyStream(CUstream stream) {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < streams_.size(); ++i) {
      if (AsStream(i) == stream) streams_[i] = false;
    }
  }
  static void SetCurrent(CUcontext context) { current_ = context; }
  CUcontext primary(int device) const { return primary_[static_cast<std::size_t>(device)]; }
  const std::vector<DeviceIdentity>& identities() const { return identities_; }

  int driver_version = 13000;
  CUresult fail_with = CUDA_SUCCESS;  // what DriverVersion and DeviceCount return
  std::vector<const void*> loaded_images;
  int functions_per_module = 1;

 private:
  struct Context {
    unsigned long long id;
    bool live;
  };
  // Handles are the addresses of the records (a deque never moves its elements).
  static CUcontext AsHandle(const Context& c) {
    return reinterpret_cast<CUcontext>(const_cast<Context*>(&c));
  }

  // Stream handles are small made-up addresses past the default streams' 0x1 and 0x2.
  static CUstream AsStream(std::size_t index) { return reinterpret_cast<CUstream>(0x100 + 0x10 * index); }

  std::mutex mu_;
  std::deque<Context> contexts_;
  std::vector<bool> streams_;  // live or destroyed, by index
  unsigned long long next_id_ = 100;
  std::vector<DeviceIdentity> identities_;
  std::vector<CUcontext> primary_;
  static inline thread_local CUcontext current_ = nullptr;
};

}  // namespace gpupool::dark_api::testing
