// The "cuda" backend: the machine's libcuda.so.1, opened at run time so gpupool-server builds and
// starts (with --device emulated) where no NVIDIA driver is installed. Every DriverApi entry is
// resolved by its ABI symbol name (cuMemAlloc_v2, not the cuMemAlloc macro); entries this driver
// lacks stay null and the worker answers CUDA_ERROR_NOT_SUPPORTED for them.
#include <dlfcn.h>

#include "remoting/server/backend.h"

namespace gpupool::server {
namespace {

class CudaBackend : public Backend {
 public:
  CudaBackend(void* handle, const DriverApi& api) : handle_(handle), api_(api) {}
  // The library stays loaded for the life of the process: the driver's own threads and atexit
  // handlers may still run code from it after this object is gone.
  ~CudaBackend() override = default;
  std::string kind() const override { return "cuda"; }
  const DriverApi& api() const override { return api_; }
  // HostView stays null: device memory is not host-addressable, so bulk copies go through the
  // frame buffer (to the device) and session staging (from it), one host copy each.

 private:
  void* handle_;
  DriverApi api_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenCudaBackend(const std::string& library_path) {
  std::string path = library_path.empty() ? "libcuda.so.1" : library_path;
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return Status::Unavailable("cannot load " + path + " (is the NVIDIA driver installed?): " +
                               (why != nullptr ? why : "unknown error"));
  }
  // gpupool's own client is also a libcuda.so.1 (and exports a dlsym interposer, which NVIDIA's does
  // not). Loading it here would send the server's calls back to a server: refuse, and say why.
  Dl_info driver{}, interposer{};
  void* own_dlsym = ::dlsym(handle, "dlsym");
  void* init = ::dlsym(handle, "cuInit");
  if (init != nullptr && own_dlsym != nullptr && ::dladdr(init, &driver) != 0 &&
      ::dladdr(own_dlsym, &interposer) != 0 && driver.dli_fbase == interposer.dli_fbase) {
    std::string file = driver.dli_fname != nullptr ? driver.dli_fname : path;
    ::dlclose(handle);
    return Status::FailedPrecondition(file +
                                      " is gpupool's client library, not the NVIDIA driver; remove it from "
                                      "LD_LIBRARY_PATH or pass --cuda-library");
  }
  DriverApi api;
#define GPUPOOL_DRIVER_FN(symbol, pfn) api.symbol = reinterpret_cast<pfn>(::dlsym(handle, #symbol));
#include "remoting/server/driver_functions.def"
#undef GPUPOOL_DRIVER_FN
  if (api.cuInit == nullptr) {
    ::dlclose(handle);
    return Status::Unavailable(path + " has no cuInit: not a CUDA driver");
  }
  return std::unique_ptr<Backend>(new CudaBackend(handle, api));
}

}  // namespace gpupool::server
