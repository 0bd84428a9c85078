// What a program can ask of a CUkernel (a library's kernel, context-independent) and of a function's
// identity: attributes (asked of the server's driver for the device named), cache configuration (set
// on the kernel's function in the current context), parameter layout, library and module
// (known here), loading state (the server's: with lazy loading a function loads at first use).
#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"

using namespace gpupool::client;

namespace {

Function* KernelOf(CUkernel handle) {
  Function* kernel = FindFunction(handle);
  return kernel != nullptr && kernel->kernel ? kernel : nullptr;
}

}  // namespace

GPUPOOL_API CUresult cuKernelGetAttribute(int* value, CUfunction_attribute attribute, CUkernel handle,
                                          CUdevice device) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Function* kernel = KernelOf(handle);
  if (kernel == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  protocol::Call<Op::KernelGetAttribute>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::KernelGetAttribute>(0, {static_cast<std::int32_t>(attribute), kernel->id, device}, &reply));
  *value = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuKernelSetAttribute(CUfunction_attribute attribute, int value, CUkernel handle,
                                          CUdevice device) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Function* kernel = KernelOf(handle);
  if (kernel == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return Rpc<Op::KernelSetAttribute>(0, {static_cast<std::int32_t>(attribute), value, kernel->id, device});
}

GPUPOOL_API CUresult cuKernelSetCacheConfig(CUkernel handle, CUfunc_cache config, CUdevice device) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (KernelOf(handle) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (State::Get().device(device) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  return cuFuncSetCacheConfig(reinterpret_cast<CUfunction>(handle), config);
}

GPUPOOL_API CUresult cuKernelGetParamInfo(CUkernel kernel, size_t index, size_t* offset, size_t* size) {
  return cuFuncGetParamInfo(reinterpret_cast<CUfunction>(kernel), index, offset, size);
}

GPUPOOL_API CUresult cuKernelGetLibrary(CUlibrary* library, CUkernel handle) {
  if (library == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Function* kernel = FindFunction(handle);
  if (kernel == nullptr || !kernel->kernel || kernel->library == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *library = reinterpret_cast<CUlibrary>(kernel->library);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuFuncGetModule(CUmodule* module, CUfunction handle) {
  if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Function* function = FindFunction(handle);
  if (function == nullptr || function->kernel) return CUDA_ERROR_INVALID_HANDLE;
  if (function->module != nullptr) {
    *module = reinterpret_cast<CUmodule>(function->module);
    return CUDA_SUCCESS;
  }
  if (function->library == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return cuLibraryGetModule(module, reinterpret_cast<CUlibrary>(function->library));
}

GPUPOOL_API CUresult cuFuncIsLoaded(CUfunctionLoadingState* state, CUfunction handle) {
  if (state == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  Function* function = FindFunction(handle);
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  GPUPOOL_CU_RETURN_IF_ERROR(FunctionId(function, &id));
  protocol::Call<Op::FuncIsLoaded>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::FuncIsLoaded>(context, {id}, &reply));
  *state = static_cast<CUfunctionLoadingState>(std::get<0>(reply));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuFuncLoad(CUfunction handle) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  Function* function = FindFunction(handle);
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  GPUPOOL_CU_RETURN_IF_ERROR(FunctionId(function, &id));
  return Rpc<Op::FuncLoad>(context, {id});
}
