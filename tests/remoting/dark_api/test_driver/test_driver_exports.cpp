// The exported driver API of the dark API test driver (test_driver.h): the few calls the CUDA
// runtime makes to start, copy memory and symbols, launch and reset; cuGetProcAddress answers
// CUDA_ERROR_NOT_FOUND for every other name, which the runtime reports as
// cudaErrorCallRequiresNewerDriver for the APIs that need them.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/remoting/dark_api/test_driver/test_driver.h"

using gpupool::dark_api::test_driver::Context;
using gpupool::dark_api::test_driver::Driver;
using gpupool::dark_api::test_driver::Library;

namespace {

Driver& D() {
  return Driver::Get();
}

bool ValidDevice(CUdevice device) {
  return device >= 0 && device < D().device_count();
}

// The allocation containing [ptr, ptr + size), or false.
bool InAllocation(CUdeviceptr ptr, std::size_t size) {
  std::lock_guard<std::mutex> lock(D().mu);
  auto it = D().allocations.upper_bound(ptr);
  if (it == D().allocations.begin()) return false;
  --it;
  return ptr >= it->first && ptr + size <= it->first + it->second;
}

}  // namespace

extern "C" {

CUresult cuInit(unsigned flags) {
  return flags == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = D().PublicDriverVersion();
  return CUDA_SUCCESS;
}

CUresult cuGetExportTable(const void** table, const CUuuid* id) {
  return D().dark_api->GetExportTable(table, id);
}

CUresult cuDeviceGetCount(int* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = D().device_count();
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char* name, int length, CUdevice device) {
  if (name == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  std::snprintf(name, static_cast<std::size_t>(length), "gpupool test driver %d", device);
  return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem(std::size_t* bytes, CUdevice device) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = std::size_t{16} << 30;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice device) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  *value = D().Attribute(device, attribute);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice device) {
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  *uuid = D().PublicIdentity(device).uuid;
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device) {
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(D().mu);
  D().primary(device)->retained++;
  *context = Driver::AsHandle(D().primary(device));
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  Context* c = D().primary(device);
  if (c->retained <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--c->retained == 0) D().DestroyPrimary(device);
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxReset(CUdevice device) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  D().DestroyPrimary(device);
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxGetState(CUdevice device, unsigned* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  *flags = D().primary(device)->flags;
  *active = D().primary(device)->retained > 0;
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxSetFlags(CUdevice device, unsigned flags) {
  if (!ValidDevice(device)) return CUDA_ERROR_INVALID_DEVICE;
  D().primary(device)->flags = flags;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext* context) {
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *context = Driver::current;
  return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext context) {
  if (context != nullptr && D().AsContext(context) == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  Driver::current = context;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = D().AsContext(Driver::current);
  if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  *device = c->device;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetId(CUcontext context, unsigned long long* id) {
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return D().ContextId(context != nullptr ? context : Driver::current, id);
}

// The context API version cuda.h documents (3020); the runtime asks when it switches contexts.
CUresult cuCtxGetApiVersion(CUcontext context, unsigned* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (D().AsContext(context != nullptr ? context : Driver::current) == nullptr)
    return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020;
  return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize() {
  return Driver::current != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}

CUresult cuMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(D().mu);
  *total_bytes = std::size_t{16} << 30;
  *free_bytes = *total_bytes - D().allocated;
  return CUDA_SUCCESS;
}

CUresult cuMemAlloc(CUdeviceptr* ptr, std::size_t size) {
  if (ptr == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  if (Driver::current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  std::lock_guard<std::mutex> lock(D().mu);
  if (size > (std::size_t{16} << 30) - D().allocated) return CUDA_ERROR_OUT_OF_MEMORY;
  void* memory = std::aligned_alloc(256, (size + 255) / 256 * 256);
  if (memory == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  *ptr = reinterpret_cast<CUdeviceptr>(memory);
  D().allocations[*ptr] = size;
  D().allocated += size;
  return CUDA_SUCCESS;
}

CUresult cuMemFree(CUdeviceptr ptr) {
  std::lock_guard<std::mutex> lock(D().mu);
  auto it = D().allocations.find(ptr);
  if (it == D().allocations.end()) return CUDA_ERROR_INVALID_VALUE;
  D().allocated -= it->second;
  D().allocations.erase(it);
  std::free(reinterpret_cast<void*>(ptr));
  return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoD(CUdeviceptr dst, const void* src, std::size_t size) {
  if (!InAllocation(dst, size)) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(reinterpret_cast<void*>(dst), src, size);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoH(void* dst, CUdeviceptr src, std::size_t size) {
  if (!InAllocation(src, size)) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(dst, reinterpret_cast<const void*>(src), size);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, std::size_t size) {
  if (!InAllocation(dst, size) || !InAllocation(src, size)) return CUDA_ERROR_INVALID_VALUE;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), size);
  return CUDA_SUCCESS;
}

CUresult cuMemsetD8(CUdeviceptr dst, unsigned char value, std::size_t size) {
  if (!InAllocation(dst, size)) return CUDA_ERROR_INVALID_VALUE;
  std::memset(reinterpret_cast<void*>(dst), value, size);
  return CUDA_SUCCESS;
}

CUresult cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option*, void**, unsigned,
                           CUlibraryOption*, void**, unsigned) {
  if (library == nullptr || code == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(D().mu);
  D().libraries.push_back(std::make_unique<Library>());
  *library = reinterpret_cast<CUlibrary>(D().libraries.back().get());
  return CUDA_SUCCESS;
}

CUresult cuLibraryUnload(CUlibrary library) {
  std::lock_guard<std::mutex> lock(D().mu);
  for (auto it = D().libraries.begin(); it != D().libraries.end(); ++it) {
    if (reinterpret_cast<CUlibrary>(it->get()) == library) {
      // Globals stay registered as allocations only while their library is loaded.
      for (auto& [name, bytes] : (*it)->globals)
        D().allocations.erase(reinterpret_cast<CUdeviceptr>(bytes.data()));
      D().libraries.erase(it);
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_HANDLE;
}

// Every global is 4 KiB of zeroes: enough for the test programs' symbols.
CUresult cuLibraryGetGlobal(CUdeviceptr* ptr, std::size_t* size, CUlibrary library, const char* name) {
  if (library == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(D().mu);
  auto* lib = reinterpret_cast<Library*>(library);
  auto [it, inserted] = lib->globals.try_emplace(name, 4096, 0);
  const auto address = reinterpret_cast<CUdeviceptr>(it->second.data());
  if (inserted) D().allocations[address] = it->second.size();
  if (ptr != nullptr) *ptr = address;
  if (size != nullptr) *size = it->second.size();
  return CUDA_SUCCESS;
}

CUresult cuLibraryGetKernel(CUkernel* kernel, CUlibrary library, const char* name) {
  if (kernel == nullptr || library == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(D().mu);
  auto* lib = reinterpret_cast<Library*>(library);
  auto& handle = lib->kernels[name];
  if (!handle) handle = std::make_unique<std::string>(name);
  *kernel = reinterpret_cast<CUkernel>(handle.get());
  return CUDA_SUCCESS;
}

// Validated like the real driver, recorded on stderr, not run.
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shared, CUstream, void**, void**) {
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (Driver::current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return CUDA_ERROR_INVALID_VALUE;
  if (std::size_t{bx} * by * bz > 1024 || bz > 64) return CUDA_ERROR_INVALID_VALUE;
  if (shared > 48 * 1024) return CUDA_ERROR_INVALID_VALUE;
  std::fprintf(stderr, "gpupool test driver: launch %s grid %ux%ux%u block %ux%ux%u\n",
               reinterpret_cast<const std::string*>(f)->c_str(), gx, gy, gz, bx, by, bz);
  return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult error, const char** name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *name = error == CUDA_SUCCESS ? "CUDA_SUCCESS" : "CUDA_ERROR (gpupool test driver)";
  return CUDA_SUCCESS;
}

CUresult cuGetErrorString(CUresult error, const char** text) {
  if (text == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *text = error == CUDA_SUCCESS ? "no error" : "error (gpupool test driver)";
  return CUDA_SUCCESS;
}

// cuda.h maps cuGetProcAddress to cuGetProcAddress_v2 (with a status argument); the runtime asks
// for both ABIs.
CUresult cuGetProcAddress(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                          CUdriverProcAddressQueryResult* status);
#undef cuGetProcAddress
CUresult cuGetProcAddress(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags);

}  // extern "C"

namespace {

struct Entry {
  const char* name;
  void* function;
};

#define GPUPOOL_TEST_DRIVER_ENTRY(name) \
  { #name, reinterpret_cast < void*>(&name) }
const Entry kEntries[] = {
    GPUPOOL_TEST_DRIVER_ENTRY(cuInit),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDriverGetVersion),
    GPUPOOL_TEST_DRIVER_ENTRY(cuGetExportTable),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDeviceGetCount),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDeviceGet),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDeviceGetName),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDeviceTotalMem),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDeviceGetAttribute),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDeviceGetUuid),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDevicePrimaryCtxRetain),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDevicePrimaryCtxRelease),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDevicePrimaryCtxReset),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDevicePrimaryCtxGetState),
    GPUPOOL_TEST_DRIVER_ENTRY(cuDevicePrimaryCtxSetFlags),
    GPUPOOL_TEST_DRIVER_ENTRY(cuCtxGetCurrent),
    GPUPOOL_TEST_DRIVER_ENTRY(cuCtxSetCurrent),
    GPUPOOL_TEST_DRIVER_ENTRY(cuCtxGetDevice),
    GPUPOOL_TEST_DRIVER_ENTRY(cuCtxGetId),
    GPUPOOL_TEST_DRIVER_ENTRY(cuCtxGetApiVersion),
    GPUPOOL_TEST_DRIVER_ENTRY(cuCtxSynchronize),
    GPUPOOL_TEST_DRIVER_ENTRY(cuModuleGetLoadingMode),
    GPUPOOL_TEST_DRIVER_ENTRY(cuMemGetInfo),
    GPUPOOL_TEST_DRIVER_ENTRY(cuMemAlloc),
    GPUPOOL_TEST_DRIVER_ENTRY(cuMemFree),
    GPUPOOL_TEST_DRIVER_ENTRY(cuMemcpyHtoD),
    GPUPOOL_TEST_DRIVER_ENTRY(cuMemcpyDtoH),
    GPUPOOL_TEST_DRIVER_ENTRY(cuMemcpyDtoD),
    GPUPOOL_TEST_DRIVER_ENTRY(cuMemsetD8),
    GPUPOOL_TEST_DRIVER_ENTRY(cuLibraryLoadData),
    GPUPOOL_TEST_DRIVER_ENTRY(cuLibraryUnload),
    GPUPOOL_TEST_DRIVER_ENTRY(cuLibraryGetGlobal),
    GPUPOOL_TEST_DRIVER_ENTRY(cuLibraryGetKernel),
    GPUPOOL_TEST_DRIVER_ENTRY(cuLaunchKernel),
    GPUPOOL_TEST_DRIVER_ENTRY(cuGetErrorName),
    GPUPOOL_TEST_DRIVER_ENTRY(cuGetErrorString),
};
#undef GPUPOOL_TEST_DRIVER_ENTRY

}  // namespace

// Versions and the per-thread-stream flag are ignored: every entry but cuGetProcAddress itself has
// one ABI here.
extern "C" CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cuda_version, cuuint64_t,
                                        CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (std::strcmp(symbol, "cuGetProcAddress") == 0) {
    *pfn = cuda_version >= 12000 ? reinterpret_cast<void*>(&cuGetProcAddress_v2)
                                 : reinterpret_cast<void*>(&cuGetProcAddress);
    if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
    return CUDA_SUCCESS;
  }
  for (const Entry& entry : kEntries) {
    if (std::strcmp(entry.name, symbol) == 0) {
      *pfn = entry.function;
      if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
      return CUDA_SUCCESS;
    }
  }
  *pfn = nullptr;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  return CUDA_ERROR_NOT_FOUND;
}

extern "C" CUresult cuGetProcAddress(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags) {
  return cuGetProcAddress_v2(symbol, pfn, cuda_version, flags, nullptr);
}
