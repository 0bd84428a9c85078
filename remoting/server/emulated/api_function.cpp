// Function and kernel queries: names, parameter layouts, attributes, cache configuration.
// CUfunction and CUkernel handles name the same Function (a library's kernel is its function in
// the library's context), so each cuKernel* call is its cuFunc* twin plus a device check.
#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/launch_limits.h"

namespace gpupool::server::emulated {
namespace {

constexpr int kBinaryVersion = 90;

#define GPUPOOL_FUNCTION(f, handle)     \
  GPUPOOL_EMULATED_LOCK();              \
  GPUPOOL_EMULATED_REQUIRE_INIT();      \
  Function* f = LookupFunction(handle); \
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE

CUresult GetAttribute(const Function& f, CUfunction_attribute attribute, int* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const KernelInfo& k = *f.info;
  switch (attribute) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = MaxThreadsForFunction(f); break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *value = static_cast<int>(k.shared_bytes); break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *value = static_cast<int>(k.const_bytes); break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *value = static_cast<int>(k.local_bytes); break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *value = Registers(f); break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *value = kBinaryVersion; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *value = kBinaryVersion; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = MaxDynamicShared(f); break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *value = f.carveout; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: *value = f.non_portable_cluster; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *value = f.cluster_policy; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

CUresult SetAttribute(Function& f, CUfunction_attribute attribute, int value) {
  switch (attribute) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
      if (value < 0 || value > kMaxSharedPerBlockOptin - static_cast<int>(f.info->shared_bytes)) {
        return CUDA_ERROR_INVALID_VALUE;
      }
      f.max_dynamic_shared = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      if (value < -1 || value > 100) return CUDA_ERROR_INVALID_VALUE;
      f.carveout = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
      if (value != 0 && value != 1) return CUDA_ERROR_INVALID_VALUE;
      f.non_portable_cluster = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      if (value < 0 || value > 2) return CUDA_ERROR_INVALID_VALUE;
      f.cluster_policy = value;
      return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;  // read-only or unknown
  }
}

CUresult ParamInfo(const Function& f, size_t index, size_t* offset, size_t* size) {
  if (offset == nullptr || index >= f.info->params.size()) return CUDA_ERROR_INVALID_VALUE;
  *offset = f.info->params[index].offset;
  if (size != nullptr) *size = f.info->params[index].size;
  return CUDA_SUCCESS;
}

CUresult SetCacheConfig(Function& f, CUfunc_cache config) {
  if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL)
    return CUDA_ERROR_INVALID_VALUE;
  f.cache_config = config;
  return CUDA_SUCCESS;
}

CUresult FuncGetAttribute(int* value, CUfunction_attribute attribute, CUfunction handle) {
  GPUPOOL_FUNCTION(f, handle);
  return GetAttribute(*f, attribute, value);
}
CUresult FuncSetAttribute(CUfunction handle, CUfunction_attribute attribute, int value) {
  GPUPOOL_FUNCTION(f, handle);
  return SetAttribute(*f, attribute, value);
}
CUresult FuncSetCacheConfig(CUfunction handle, CUfunc_cache config) {
  GPUPOOL_FUNCTION(f, handle);
  return SetCacheConfig(*f, config);
}
CUresult FuncGetName(const char** name, CUfunction handle) {
  GPUPOOL_FUNCTION(f, handle);
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *name = f->info->name.c_str();
  return CUDA_SUCCESS;
}
CUresult FuncGetParamInfo(CUfunction handle, size_t index, size_t* offset, size_t* size) {
  GPUPOOL_FUNCTION(f, handle);
  return ParamInfo(*f, index, offset, size);
}
CUresult FuncGetModule(CUmodule* module, CUfunction handle) {
  GPUPOOL_FUNCTION(f, handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *module = reinterpret_cast<CUmodule>(f->module);
  return CUDA_SUCCESS;
}
CUresult FuncLoad(CUfunction handle) {
  GPUPOOL_FUNCTION(f, handle);
  (void)f;
  return CUDA_SUCCESS;  // modules load eagerly
}
CUresult FuncIsLoaded(CUfunctionLoadingState* state, CUfunction handle) {
  GPUPOOL_FUNCTION(f, handle);
  (void)f;
  if (state == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *state = CU_FUNCTION_LOADING_STATE_LOADED;
  return CUDA_SUCCESS;
}

#define GPUPOOL_KERNEL(f, handle, dev) \
  GPUPOOL_FUNCTION(f, handle);         \
  if (!ValidDevice(dev)) return CUDA_ERROR_INVALID_DEVICE

CUresult KernelGetFunction(CUfunction* out, CUkernel handle) {
  GPUPOOL_FUNCTION(f, handle);
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = reinterpret_cast<CUfunction>(f);
  return CUDA_SUCCESS;
}
CUresult KernelGetAttribute(int* value, CUfunction_attribute attribute, CUkernel handle, CUdevice dev) {
  GPUPOOL_KERNEL(f, handle, dev);
  return GetAttribute(*f, attribute, value);
}
CUresult KernelSetAttribute(CUfunction_attribute attribute, int value, CUkernel handle, CUdevice dev) {
  GPUPOOL_KERNEL(f, handle, dev);
  return SetAttribute(*f, attribute, value);
}
CUresult KernelSetCacheConfig(CUkernel handle, CUfunc_cache config, CUdevice dev) {
  GPUPOOL_KERNEL(f, handle, dev);
  return SetCacheConfig(*f, config);
}
CUresult KernelGetName(const char** name, CUkernel handle) {
  return FuncGetName(name, reinterpret_cast<CUfunction>(handle));
}
CUresult KernelGetParamInfo(CUkernel handle, size_t index, size_t* offset, size_t* size) {
  return FuncGetParamInfo(reinterpret_cast<CUfunction>(handle), index, offset, size);
}

}  // namespace

void FillFunctionApi(DriverApi& api) {
  api.cuKernelGetFunction = KernelGetFunction;
  api.cuKernelGetAttribute = KernelGetAttribute;
  api.cuKernelSetAttribute = KernelSetAttribute;
  api.cuKernelSetCacheConfig = KernelSetCacheConfig;
  api.cuKernelGetName = KernelGetName;
  api.cuKernelGetParamInfo = KernelGetParamInfo;
  api.cuFuncGetAttribute = FuncGetAttribute;
  api.cuFuncSetAttribute = FuncSetAttribute;
  api.cuFuncSetCacheConfig = FuncSetCacheConfig;
  api.cuFuncGetName = FuncGetName;
  api.cuFuncGetParamInfo = FuncGetParamInfo;
  api.cuFuncGetModule = FuncGetModule;
  api.cuFuncLoad = FuncLoad;
  api.cuFuncIsLoaded = FuncIsLoaded;
}

}  // namespace gpupool::server::emulated
