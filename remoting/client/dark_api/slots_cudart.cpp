// CUDART_INTERFACE: the runtime's handle on primary contexts and, for runtimes older than CUDA 13
// (which load modules with cuLibraryLoadData instead), module registration from fatbins.
#include <string>

#include "common/log.h"
#include "remoting/client/dark_api/slot_support.h"
#include "remoting/client/dark_api/slots.h"

namespace gpupool::dark_api::slots {
namespace {

CUresult LoadRegisteredModule(const char* slot, CUmodule* module, const void* image, const void* arg3,
                              const void* arg4, unsigned arg5) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (arg3 != nullptr || arg4 != nullptr || arg5 != 0) {
    // What these carry is not known; loading without them could silently change behaviour.
    GPUPOOL_LOG_ONCE(kWarn, std::string("dark_api.") + slot + ".args")
        << "CUDART_INTERFACE." << slot << " called with arguments gpupool does not understand (" << arg3
        << ", " << arg4 << ", " << arg5 << "); returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const CUresult result = api.host().LoadModule(image, module);
  GPUPOOL_LOG(kTrace) << "dark_api: CUDART_INTERFACE." << slot << "(" << image << ") -> " << result;
  return result;
}

}  // namespace

CUresult CudartInterface_get_module_from_cubin(CUmodule* module, const void* fatbin_wrapper) {
  return LoadRegisteredModule("get_module_from_cubin", module, fatbin_wrapper, nullptr, nullptr, 0);
}

CUresult CudartInterface_get_module_from_cubin_ext1(CUmodule* module, const void* fatbin_wrapper, void* arg3,
                                                    void* arg4, unsigned arg5) {
  return LoadRegisteredModule("get_module_from_cubin_ext1", module, fatbin_wrapper, arg3, arg4, arg5);
}

CUresult CudartInterface_get_module_from_cubin_ext2(const void* fatbin, CUmodule* module, void* arg3,
                                                    void* arg4, unsigned arg5) {
  return LoadRegisteredModule("get_module_from_cubin_ext2", module, fatbin, arg3, arg4, arg5);
}

CUresult CudartInterface_get_primary_context(CUcontext* context, CUdevice device) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUresult result = api.host().PrimaryContext(device, context);
  GPUPOOL_LOG(kTrace) << "dark_api: CUDART_INTERFACE.get_primary_context(device " << device << ") -> "
                      << result;
  return result;
}

}  // namespace gpupool::dark_api::slots
