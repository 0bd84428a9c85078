// Handlers: images, modules and libraries. Images come from the session's image cache by hash; what
// a module or library hands out (functions, kernels, globals) is recorded as its child so that
// unloading it invalidates them.
#include "remoting/protocol/frame.h"
#include "remoting/server/dispatch.h"
#include "remoting/server/image_check.h"

namespace gpupool::server {
namespace {

// Records a global as memory the session may copy to and from (borrowed, never freed by MemFree).
void AddGlobal(Session& s, std::uint64_t parent, CUdeviceptr ptr, std::size_t bytes) {
  if (s.memory.Contains(ptr, bytes)) return;
  s.memory.Add(ptr, bytes, AllocationTable::Kind::kBorrowed);
  s.globals.emplace(parent, ptr);
}

// A variable of a module or library (`Handle`, found by the session's `Find`), looked up by the driver's
// `lookup`: it joins the session's memory, so copies to and from it are checked against it, and is the
// reply.
#define GPUPOOL_VARIABLE_HANDLER(op, Handle, Find, lookup)                                             \
  GPUPOOL_HANDLER(op) {                                                                                \
    const auto& [parent_id, name] = in;                                                                \
    Handle parent = nullptr;                                                                           \
    if (CUresult r = s.Find(parent_id, &parent); r != CUDA_SUCCESS) return r;                          \
    CUdeviceptr ptr = 0;                                                                               \
    std::size_t bytes = 0;                                                                             \
    if (CUresult r = GPUPOOL_DRIVER(s, lookup, &ptr, &bytes, parent, name.c_str()); r != CUDA_SUCCESS) \
      return r;                                                                                        \
    AddGlobal(s, parent_id, ptr, bytes);                                                               \
    *out = {ptr, bytes};                                                                               \
    return CUDA_SUCCESS;                                                                               \
  }

template <typename T>
std::uint64_t AddChild(Session& s, HandleTable<T>& table, std::uint64_t parent, T handle) {
  std::uint64_t id = table.Add(handle);
  s.children.emplace(parent, id);
  return id;
}

}  // namespace

GPUPOOL_HANDLER(ImageQuery) {
  bool cached = s.images.Has(std::get<0>(in));
  std::get<0>(*out) = cached ? 1 : 0;
  if (s.stats != nullptr) {
    ++(cached ? s.stats->image_cache_hits : s.stats->image_cache_misses);
    s.stats->image_cache_bytes = s.images.bytes();  // a hit may have loaded the image from the store
  }
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(ImageUpload) {
  const auto& [hash, total, offset] = in;
  CUresult r = s.images.Upload(hash, total, offset, tail);
  if (s.stats != nullptr) s.stats->image_cache_bytes = s.images.bytes();
  return r;
}

GPUPOOL_HANDLER(ModuleLoadData) {
  const std::string* image = s.images.Find(std::get<0>(in));
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckImage(*image); r != CUDA_SUCCESS) return r;
  CUmodule module = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuModuleLoadData, &module, image->data());
  if (r != CUDA_SUCCESS) return r;
  std::uint64_t id = s.modules.Add(module);
  s.loaded_modules.insert(id);
  std::get<0>(*out) = id;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(ModuleUnload) {
  std::uint64_t id = std::get<0>(in);
  CUmodule module = nullptr;
  if (s.loaded_modules.count(id) == 0 || s.Module(id, &module) != CUDA_SUCCESS)
    return CUDA_ERROR_INVALID_HANDLE;
  s.DropChildren(id);
  s.modules.Remove(id);
  s.loaded_modules.erase(id);
  return GPUPOOL_DRIVER(s, cuModuleUnload, module);
}

GPUPOOL_HANDLER(ModuleGetFunction) {
  const auto& [module_id, name] = in;
  CUmodule module = nullptr;
  if (CUresult r = s.Module(module_id, &module); r != CUDA_SUCCESS) return r;
  CUfunction f = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuModuleGetFunction, &f, module, name.c_str());
  if (r == CUDA_SUCCESS) std::get<0>(*out) = AddChild(s, s.functions, module_id, f);
  return r;
}

GPUPOOL_VARIABLE_HANDLER(ModuleGetGlobal, CUmodule, Module, cuModuleGetGlobal_v2)

GPUPOOL_HANDLER(ModuleGetFunctionCount) {
  CUmodule module = nullptr;
  if (CUresult r = s.Module(std::get<0>(in), &module); r != CUDA_SUCCESS) return r;
  unsigned count = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuModuleGetFunctionCount, &count, module);
  std::get<0>(*out) = count;
  return r;
}

GPUPOOL_HANDLER(ModuleEnumerateFunctions) {
  const auto& [module_id, count] = in;
  CUmodule module = nullptr;
  if (CUresult r = s.Module(module_id, &module); r != CUDA_SUCCESS) return r;
  if (count > protocol::kMaxListItems) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUfunction> fns(count);
  CUresult r = GPUPOOL_DRIVER(s, cuModuleEnumerateFunctions, fns.data(), count, module);
  if (r != CUDA_SUCCESS) return r;
  for (CUfunction f : fns) std::get<0>(*out).push_back(AddChild(s, s.functions, module_id, f));
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(ModuleGetLoadingMode) {
  CUmoduleLoadingMode mode = CU_MODULE_EAGER_LOADING;
  CUresult r = GPUPOOL_DRIVER(s, cuModuleGetLoadingMode, &mode);
  std::get<0>(*out) = mode;
  return r;
}

GPUPOOL_HANDLER(LibraryLoadData) {
  const std::string* image = s.images.Find(std::get<0>(in));
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = CheckImage(*image); r != CUDA_SUCCESS) return r;
  CUlibrary library = nullptr;
  CUresult r =
      GPUPOOL_DRIVER(s, cuLibraryLoadData, &library, image->data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
  if (r == CUDA_SUCCESS) std::get<0>(*out) = s.libraries.Add(library);
  return r;
}

GPUPOOL_HANDLER(LibraryUnload) {
  CUlibrary library = nullptr;
  if (CUresult r = s.Library(std::get<0>(in), &library); r != CUDA_SUCCESS) return r;
  s.DropChildren(std::get<0>(in));
  s.libraries.Remove(std::get<0>(in));
  return GPUPOOL_DRIVER(s, cuLibraryUnload, library);
}

GPUPOOL_HANDLER(LibraryGetKernel) {
  const auto& [library_id, name] = in;
  CUlibrary library = nullptr;
  if (CUresult r = s.Library(library_id, &library); r != CUDA_SUCCESS) return r;
  CUkernel kernel = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuLibraryGetKernel, &kernel, library, name.c_str());
  if (r == CUDA_SUCCESS) std::get<0>(*out) = AddChild(s, s.kernels, library_id, kernel);
  return r;
}

GPUPOOL_HANDLER(LibraryGetModule) {
  CUlibrary library = nullptr;
  if (CUresult r = s.Library(std::get<0>(in), &library); r != CUDA_SUCCESS) return r;
  CUmodule module = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuLibraryGetModule, &module, library);
  if (r == CUDA_SUCCESS) std::get<0>(*out) = AddChild(s, s.modules, std::get<0>(in), module);
  return r;
}

GPUPOOL_VARIABLE_HANDLER(LibraryGetGlobal, CUlibrary, Library, cuLibraryGetGlobal)

// A __managed__ variable, as a global (the client keeps the host's view of it:
// remoting/client/managed_memory.h).
GPUPOOL_VARIABLE_HANDLER(LibraryGetManaged, CUlibrary, Library, cuLibraryGetManaged)

GPUPOOL_HANDLER(LibraryGetKernelCount) {
  CUlibrary library = nullptr;
  if (CUresult r = s.Library(std::get<0>(in), &library); r != CUDA_SUCCESS) return r;
  unsigned count = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuLibraryGetKernelCount, &count, library);
  std::get<0>(*out) = count;
  return r;
}

GPUPOOL_HANDLER(LibraryEnumerateKernels) {
  const auto& [library_id, count] = in;
  CUlibrary library = nullptr;
  if (CUresult r = s.Library(library_id, &library); r != CUDA_SUCCESS) return r;
  if (count > protocol::kMaxListItems) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUkernel> kernels(count);
  CUresult r = GPUPOOL_DRIVER(s, cuLibraryEnumerateKernels, kernels.data(), count, library);
  if (r != CUDA_SUCCESS) return r;
  for (CUkernel k : kernels) std::get<0>(*out).push_back(AddChild(s, s.kernels, library_id, k));
  return CUDA_SUCCESS;
}

}  // namespace gpupool::server
