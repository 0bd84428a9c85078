// Modules, libraries, kernels and functions. Images go to the server once per content hash
// (module_loader.h); handles are client objects (state.h, functions.h).
//
// Libraries load lazily, like the driver's CUDA_MODULE_LOADING=LAZY: the CUDA runtime registers every
// fatbin of a process (hundreds of MB with cuBLAS or PyTorch) through cuLibraryLoadData, most never
// used. An image that lives in a loaded binary stays valid for the process, so it is hashed, sent and
// loaded on the server only when a kernel, global or module of it is first asked for. An image
// elsewhere (heap memory the application may free after the call) is loaded at once.
#include <dlfcn.h>

#include <functional>

#include "common/log.h"
#include "common/read_file.h"
#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"
#include "remoting/client/image_size.h"
#include "remoting/client/module_loader.h"

using namespace gpupool::client;

namespace {

// The client handle of the worker's function (or kernel) `id`: the same for every lookup of it.
Function* FunctionById(std::mutex& mu, std::map<std::uint64_t, Function*>& cache, std::uint64_t id,
                       bool kernel, Module* module, Library* library = nullptr) {
  std::lock_guard<std::mutex> lock(mu);
  Function*& slot = cache[id];
  if (slot == nullptr) slot = AddFunction(id, kernel, module, library);
  return slot;
}

// Fills `out` with the handles of the worker's `ids` (an enumeration that must answer `count`).
template <typename Handle>
CUresult HandlesOf(const std::vector<std::uint64_t>& ids, unsigned count, std::mutex& mu,
                   std::map<std::uint64_t, Function*>& cache, bool kernel, Module* module, Library* library,
                   Handle* out) {
  if (ids.size() != count) return CUDA_ERROR_DEVICE_UNAVAILABLE;  // a reply that breaks the protocol
  for (unsigned i = 0; i < count; ++i)
    out[i] = reinterpret_cast<Handle>(FunctionById(mu, cache, ids[i], kernel, module, library));
  return CUDA_SUCCESS;
}

// True when `image` is inside a mapped object file (the executable or a shared library).
bool InLoadedBinary(const void* image) {
  Dl_info info{};
  return dladdr(image, &info) != 0 && info.dli_fname != nullptr;
}

// Loads `library` on the server, once. With JIT options (the library's own; `outputs`: the program's
// options whose outputs are filled from the reply) through LibraryLoadDataEx.
CUresult EnsureLibraryLoaded(Library* library, const JitOptions* outputs = nullptr) {
  std::call_once(library->load_once, [library, outputs] {
    std::string hash;
    library->load_result = UploadImage(library->image, &hash);
    if (library->load_result != CUDA_SUCCESS) return;
    if (library->jit_codes.empty() && outputs == nullptr) {
      protocol::Call<Op::LibraryLoadData>::Reply reply;
      library->load_result = Rpc<Op::LibraryLoadData>(0, {hash}, &reply);
      library->id = std::get<0>(reply);
      return;
    }
    protocol::Call<Op::LibraryLoadDataEx>::Reply reply;
    library->load_result =
        Rpc<Op::LibraryLoadDataEx>(0, {hash, library->jit_codes, library->jit_values}, &reply);
    if (library->load_result != CUDA_SUCCESS) return;
    const auto& [result, id, after, info, error] = reply;
    const bool intact =
        outputs != nullptr ? outputs->Fill(after, info, error) : after.size() == library->jit_codes.size();
    library->load_result = intact ? static_cast<CUresult>(result) : CUDA_ERROR_DEVICE_UNAVAILABLE;
    library->id = id;
  });
  return library->load_result;
}

// The bytes of the image file `path` (cuModuleLoad, cuLibraryLoadFromFile read it here, in the
// program's process, as the driver would), NUL-terminated for PTX text.
CUresult ReadImageFile(const char* path, std::string* bytes) {
  if (path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  auto file = gpupool::ReadTextFile(path);
  if (!file.ok()) return CUDA_ERROR_FILE_NOT_FOUND;
  *bytes = std::move(*file);
  return CUDA_SUCCESS;
}

// The library behind `handle`, loaded on the server.
CUresult LoadedLibrary(CUlibrary handle, Library** out) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Library* library = State::Get().libraries.Find(handle);
  if (library == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  GPUPOOL_CU_RETURN_IF_ERROR(EnsureLibraryLoaded(library));
  *out = library;
  return CUDA_SUCCESS;
}

// A variable of a library, looked up on the server (`op`) in server context `context`. It joins the
// allocations (copies take it as device memory) and fills the out parameters the program gave.
template <Op op>
CUresult LibraryVariable(CUlibrary handle, const char* name, std::uint64_t context, CUdeviceptr* dptr,
                         size_t* bytes,
                         const std::function<CUresult(CUdeviceptr, std::size_t)>& before = {}) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Library* library = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(LoadedLibrary(handle, &library));
  typename protocol::Call<op>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<op>(context, {library->id, name}, &reply));
  const auto [address, size] = reply;
  if (before) GPUPOOL_CU_RETURN_IF_ERROR(before(address, size));
  State::Get().AddAllocation(address, size);
  if (dptr != nullptr) *dptr = address;
  if (bytes != nullptr) *bytes = size;
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuModuleLoadData(CUmodule* module, const void* image) {
  return LoadModuleData(image, module);
}

GPUPOOL_API CUresult cuModuleLoad(CUmodule* module, const char* path) {
  if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::string image;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadImageFile(path, &image));
  return LoadModuleData(image.c_str(), module);
}

// The options travel to the server's cuModuleLoadDataEx; its logs and outputs come back (jit_options.h).
GPUPOOL_API CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int count,
                                        CUjit_option* options, void** values) {
  JitOptions jit;
  GPUPOOL_CU_RETURN_IF_ERROR(jit.Parse(count, options, values));
  return LoadModuleData(image, module, count > 0 ? &jit : nullptr);
}

GPUPOOL_API CUresult cuModuleLoadFatBinary(CUmodule* module, const void* fatbin) {
  return LoadModuleData(fatbin, module);
}

GPUPOOL_API CUresult cuModuleUnload(CUmodule handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Module* module = State::Get().modules.Find(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ModuleUnload>(0, {module->id}));
  // Function handles of the module stay registered (and fail on the server): cheap and safe.
  (void)State::Get().modules.Retire(handle);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuModuleGetFunction(CUfunction* function, CUmodule handle, const char* name) {
  if (function == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Module* module = State::Get().modules.Find(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  protocol::Call<Op::ModuleGetFunction>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ModuleGetFunction>(0, {module->id, name}, &reply));
  *function = reinterpret_cast<CUfunction>(
      FunctionById(module->mu, module->functions, std::get<0>(reply), false, module));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuModuleGetFunctionCount(unsigned int* count, CUmodule handle) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Module* module = State::Get().modules.Find(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  protocol::Call<Op::ModuleGetFunctionCount>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ModuleGetFunctionCount>(0, {module->id}, &reply));
  *count = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuModuleEnumerateFunctions(CUfunction* functions, unsigned int count, CUmodule handle) {
  if (functions == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Module* module = State::Get().modules.Find(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  protocol::Call<Op::ModuleEnumerateFunctions>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ModuleEnumerateFunctions>(0, {module->id, count}, &reply));
  return HandlesOf(std::get<0>(reply), count, module->mu, module->functions, false, module, nullptr,
                   functions);
}

GPUPOOL_API CUresult cuModuleGetGlobal(CUdeviceptr* dptr, size_t* bytes, CUmodule handle, const char* name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Module* module = State::Get().modules.Find(handle);
  if (module == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  protocol::Call<Op::ModuleGetGlobal>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ModuleGetGlobal>(0, {module->id, name}, &reply));
  State::Get().AddAllocation(std::get<0>(reply), std::get<1>(reply));
  if (dptr != nullptr) *dptr = std::get<0>(reply);
  if (bytes != nullptr) *bytes = std::get<1>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  protocol::Call<Op::ModuleGetLoadingMode>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ModuleGetLoadingMode>(0, {}, &reply));
  *mode = static_cast<CUmoduleLoadingMode>(std::get<0>(reply));
  return CUDA_SUCCESS;
}

// JIT options travel; with outputs to fill (logs, wall time) the library loads at once, while options
// that only steer compilation keep the load lazy. Library options are not forwarded.
GPUPOOL_API CUresult cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option* jit_options,
                                       void** jit_values, unsigned int jit_count, CUlibraryOption*, void**,
                                       unsigned int) {
  if (library == nullptr || code == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  JitOptions jit;
  GPUPOOL_CU_RETURN_IF_ERROR(jit.Parse(jit_count, jit_options, jit_values));
  auto span = FindImageSpan(code);  // a malformed image fails here, lazy or not
  if (!span.ok()) {
    GPUPOOL_LOG(kWarn) << "library image rejected: " << span.status().ToString();
    return CUDA_ERROR_INVALID_IMAGE;
  }
  auto object = std::make_unique<Library>();
  object->image = code;
  object->jit_codes = jit.codes();
  object->jit_values = jit.values();
  if (InLoadedBinary(code) && !jit.has_outputs()) {
    GPUPOOL_LOG(kDebug) << "library image of " << span->size
                        << " bytes in a loaded binary: sent on first use";
  } else {
    GPUPOOL_CU_RETURN_IF_ERROR(EnsureLibraryLoaded(object.get(), jit.has_outputs() ? &jit : nullptr));
  }
  *library = reinterpret_cast<CUlibrary>(State::Get().libraries.Add(std::move(object)));
  return CUDA_SUCCESS;
}

// The file's bytes are heap memory here, so cuLibraryLoadData loads them on the server at once.
GPUPOOL_API CUresult cuLibraryLoadFromFile(CUlibrary* library, const char* path, CUjit_option* jit_options,
                                           void** jit_values, unsigned int jit_count,
                                           CUlibraryOption* library_options, void** library_values,
                                           unsigned int library_count) {
  if (library == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::string image;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadImageFile(path, &image));
  return cuLibraryLoadData(library, image.c_str(), jit_options, jit_values, jit_count, library_options,
                           library_values, library_count);
}

GPUPOOL_API CUresult cuLibraryUnload(CUlibrary handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Library* library = State::Get().libraries.Find(handle);
  if (library == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  // A library never used was never loaded on the server (and must not be loaded from now on).
  std::call_once(library->load_once, [library] { library->load_result = CUDA_ERROR_NOT_INITIALIZED; });
  if (library->load_result == CUDA_SUCCESS)
    GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::LibraryUnload>(0, {library->id}));
  (void)State::Get().libraries.Retire(handle);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuLibraryGetKernel(CUkernel* kernel, CUlibrary handle, const char* name) {
  if (kernel == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Library* library = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(LoadedLibrary(handle, &library));
  protocol::Call<Op::LibraryGetKernel>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::LibraryGetKernel>(0, {library->id, name}, &reply));
  *kernel = reinterpret_cast<CUkernel>(
      FunctionById(library->mu, library->kernels, std::get<0>(reply), true, nullptr, library));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuLibraryGetKernelCount(unsigned int* count, CUlibrary handle) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Library* library = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(LoadedLibrary(handle, &library));
  protocol::Call<Op::LibraryGetKernelCount>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::LibraryGetKernelCount>(0, {library->id}, &reply));
  *count = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuLibraryEnumerateKernels(CUkernel* kernels, unsigned int count, CUlibrary handle) {
  if (kernels == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Library* library = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(LoadedLibrary(handle, &library));
  protocol::Call<Op::LibraryEnumerateKernels>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::LibraryEnumerateKernels>(0, {library->id, count}, &reply));
  return HandlesOf(std::get<0>(reply), count, library->mu, library->kernels, true, nullptr, library, kernels);
}

GPUPOOL_API CUresult cuLibraryGetModule(CUmodule* module, CUlibrary handle) {
  if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Library* library = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(LoadedLibrary(handle, &library));
  std::lock_guard<std::mutex> lock(library->mu);
  if (library->module == nullptr) {
    protocol::Call<Op::LibraryGetModule>::Reply reply;
    GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::LibraryGetModule>(0, {library->id}, &reply));
    auto object = std::make_unique<Module>();
    object->id = std::get<0>(reply);
    object->context = State::Current();
    library->module = State::Get().modules.Add(std::move(object));
  }
  *module = reinterpret_cast<CUmodule>(library->module);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuLibraryGetGlobal(CUdeviceptr* dptr, size_t* bytes, CUlibrary handle,
                                        const char* name) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().CurrentId(&context));
  return LibraryVariable<Op::LibraryGetGlobal>(handle, name, context, dptr, bytes);
}

// A __managed__ variable: the runtime makes the program's host accesses to it go through the address
// this returns, so the address gets a host view (remoting/client/managed_memory.h).
GPUPOOL_API CUresult cuLibraryGetManaged(CUdeviceptr* dptr, size_t* bytes, CUlibrary handle,
                                         const char* name) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  // The runtime asks before any context is current (the program's first host access to a variable
  // initialises it): the variables then belong to device 0's primary context, retained for them for
  // as long as the process lives, as their memory does.
  std::uint64_t context = 0;
  if (State::Get().CurrentId(&context) != CUDA_SUCCESS) {
    CUcontext primary = nullptr;
    GPUPOOL_CU_RETURN_IF_ERROR(cuDevicePrimaryCtxRetain(&primary, 0));
    context = reinterpret_cast<Context*>(primary)->id;
  }
  return LibraryVariable<Op::LibraryGetManaged>(
      handle, name, context, dptr, bytes, [context](CUdeviceptr address, std::size_t size) {
        return ManagedMemory::Get().AdoptVariable(context, address, size);
      });
}

GPUPOOL_API CUresult cuKernelGetFunction(CUfunction* function, CUkernel handle) {
  if (function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Function* kernel = FindFunction(handle);
  if (kernel == nullptr || !kernel->kernel) return CUDA_ERROR_INVALID_HANDLE;
  std::uint64_t id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(FunctionId(kernel, &id));
  *function = reinterpret_cast<CUfunction>(AddFunction(id, false, nullptr, kernel->library));
  return CUDA_SUCCESS;
}
