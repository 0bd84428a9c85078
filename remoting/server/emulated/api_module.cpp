// Modules and libraries. A library is a module loaded into the current context (device 0's
// primary context when none is current), whose kernels are its CUkernel handles.
#include <cstring>

#include "remoting/protocol/jit_logs.h"
#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/device_printf.h"

namespace gpupool::server::emulated {
namespace {

Module* LookupModule(CUmodule handle) {
  auto it = GetState().modules.find(handle);
  return it == GetState().modules.end() ? nullptr : it->second.get();
}

Library* LookupLibrary(CUlibrary handle) {
  auto it = GetState().libraries.find(handle);
  return it == GetState().libraries.end() ? nullptr : it->second.get();
}

CUresult ModuleLoadData(CUmodule* out, const void* image) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (out == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Module* module = nullptr;
  if (CUresult r = LoadModule(image, ctx, &module); r != CUDA_SUCCESS) return r;
  *out = reinterpret_cast<CUmodule>(module);
  return CUDA_SUCCESS;
}

// JIT options only steer compilation, which the emulated device does not do: its logs are empty and
// its wall time 0, which is true.
CUresult ModuleLoadDataEx(CUmodule* out, const void* image, unsigned count, CUjit_option* options,
                          void** values) {
  if (count > 0 && (options == nullptr || values == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = ModuleLoadData(out, image);
  protocol::WriteJitOutputs(count, options, values, {}, {}, 0);
  return r;
}

CUresult ModuleUnload(CUmodule handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  Module* module = LookupModule(handle);
  if (module == nullptr || module->owned_by_library) return CUDA_ERROR_INVALID_HANDLE;
  FlushPrintf(module->ctx);  // unloading a module flushes device printf, as in CUDA
  UnloadModule(module);
  return CUDA_SUCCESS;
}

Function* FindFunction(Module* module, const char* name) {
  for (auto& f : module->functions) {
    if (f->info->name == name) return f.get();
  }
  return nullptr;
}

CUresult ModuleGetFunction(CUfunction* out, CUmodule handle, const char* name) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (out == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Module* module = LookupModule(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  Function* f = FindFunction(module, name);
  if (f == nullptr) return CUDA_ERROR_NOT_FOUND;
  *out = reinterpret_cast<CUfunction>(f);
  return CUDA_SUCCESS;
}

CUresult GetGlobal(Module* module, CUdeviceptr* address, size_t* bytes, const char* name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto it = module->globals.find(std::string_view(name));
  if (it == module->globals.end()) return CUDA_ERROR_NOT_FOUND;
  if (address != nullptr) *address = it->second.address;
  if (bytes != nullptr) *bytes = it->second.size;
  return CUDA_SUCCESS;
}

CUresult ModuleGetGlobal(CUdeviceptr* address, size_t* bytes, CUmodule handle, const char* name) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  Module* module = LookupModule(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return GetGlobal(module, address, bytes, name);
}

CUresult ModuleGetFunctionCount(unsigned* count, CUmodule handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Module* module = LookupModule(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *count = static_cast<unsigned>(module->functions.size());
  return CUDA_SUCCESS;
}

// Writes up to `count` handles; asking for more than exist is CUDA_ERROR_INVALID_VALUE.
template <typename Handle>
CUresult Enumerate(Handle* out, unsigned count, const Module* module) {
  if (out == nullptr || count > module->functions.size()) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < count; ++i) out[i] = reinterpret_cast<Handle>(module->functions[i].get());
  return CUDA_SUCCESS;
}

CUresult ModuleEnumerateFunctions(CUfunction* out, unsigned count, CUmodule handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  Module* module = LookupModule(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return Enumerate(out, count, module);
}

CUresult ModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_EAGER_LOADING;
  return CUDA_SUCCESS;
}

// JIT options: as for ModuleLoadDataEx, empty logs.
CUresult LibraryLoadData(CUlibrary* out, const void* code, CUjit_option* jit_options, void** jit_values,
                         unsigned jit_count, CUlibraryOption*, void**, unsigned) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (out == nullptr || code == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (jit_count > 0 && (jit_options == nullptr || jit_values == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  protocol::WriteJitOutputs(jit_count, jit_options, jit_values, {}, {}, 0);
  State& s = GetState();
  Context* ctx = CurrentContext();
  if (ctx == nullptr) ctx = &s.devices[0].primary;
  Module* module = nullptr;
  if (CUresult r = LoadModule(code, ctx, &module); r != CUDA_SUCCESS) return r;
  module->owned_by_library = true;
  auto library = std::make_unique<Library>();
  library->module = module;
  CUlibrary handle = reinterpret_cast<CUlibrary>(library.get());
  s.libraries.emplace(handle, std::move(library));
  *out = handle;
  return CUDA_SUCCESS;
}

CUresult LibraryUnload(CUlibrary handle) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  Library* library = LookupLibrary(handle);
  if (library == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  FlushPrintf(CurrentContext());
  UnloadModule(library->module);
  GetState().libraries.erase(handle);
  return CUDA_SUCCESS;
}

// Library calls: locked, initialised, a live library in `library`.
#define GPUPOOL_LIBRARY(library, handle)    \
  GPUPOOL_EMULATED_LOCK();                  \
  GPUPOOL_EMULATED_REQUIRE_INIT();          \
  Library* library = LookupLibrary(handle); \
  if (library == nullptr) return CUDA_ERROR_INVALID_HANDLE

CUresult LibraryGetKernel(CUkernel* out, CUlibrary handle, const char* name) {
  GPUPOOL_LIBRARY(library, handle);
  if (out == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = FindFunction(library->module, name);
  if (f == nullptr) return CUDA_ERROR_NOT_FOUND;
  *out = reinterpret_cast<CUkernel>(f);
  return CUDA_SUCCESS;
}

CUresult LibraryGetModule(CUmodule* out, CUlibrary handle) {
  GPUPOOL_LIBRARY(library, handle);
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = reinterpret_cast<CUmodule>(library->module);
  return CUDA_SUCCESS;
}

CUresult LibraryGetGlobal(CUdeviceptr* address, size_t* bytes, CUlibrary handle, const char* name) {
  GPUPOOL_LIBRARY(library, handle);
  return GetGlobal(library->module, address, bytes, name);
}

// A __managed__ variable is a global of the module here, in the context's device memory like every
// other (the client makes it managed: remoting/client/managed_memory.h).
CUresult LibraryGetManaged(CUdeviceptr* address, size_t* bytes, CUlibrary handle, const char* name) {
  GPUPOOL_LIBRARY(library, handle);
  return GetGlobal(library->module, address, bytes, name);
}

// The emulated device has no unified function pointers.
CUresult LibraryGetUnifiedFunction(void**, CUlibrary handle, const char* name) {
  GPUPOOL_LIBRARY(library, handle);
  (void)library;
  return name == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_FOUND;
}

CUresult LibraryGetKernelCount(unsigned* count, CUlibrary handle) {
  GPUPOOL_LIBRARY(library, handle);
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = static_cast<unsigned>(library->module->functions.size());
  return CUDA_SUCCESS;
}

CUresult LibraryEnumerateKernels(CUkernel* out, unsigned count, CUlibrary handle) {
  GPUPOOL_LIBRARY(library, handle);
  return Enumerate(out, count, library->module);
}

}  // namespace

void FillModuleApi(DriverApi& api) {
  api.cuModuleLoadData = ModuleLoadData;
  api.cuModuleLoadDataEx = ModuleLoadDataEx;
  api.cuModuleLoadFatBinary = ModuleLoadData;
  api.cuModuleUnload = ModuleUnload;
  api.cuModuleGetFunction = ModuleGetFunction;
  api.cuModuleGetGlobal_v2 = ModuleGetGlobal;
  api.cuModuleGetFunctionCount = ModuleGetFunctionCount;
  api.cuModuleEnumerateFunctions = ModuleEnumerateFunctions;
  api.cuModuleGetLoadingMode = ModuleGetLoadingMode;
  api.cuLibraryLoadData = LibraryLoadData;
  api.cuLibraryUnload = LibraryUnload;
  api.cuLibraryGetKernel = LibraryGetKernel;
  api.cuLibraryGetModule = LibraryGetModule;
  api.cuLibraryGetGlobal = LibraryGetGlobal;
  api.cuLibraryGetManaged = LibraryGetManaged;
  api.cuLibraryGetUnifiedFunction = LibraryGetUnifiedFunction;
  api.cuLibraryGetKernelCount = LibraryGetKernelCount;
  api.cuLibraryEnumerateKernels = LibraryEnumerateKernels;
}

}  // namespace gpupool::server::emulated
