#include "tests/remoting/dark_api/test_driver/test_driver.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gpupool::dark_api::test_driver {

thread_local CUcontext Driver::current = nullptr;

Driver& Driver::Get() {
  // Never destroyed: runtimes call into the driver from their atexit handlers.
  static Driver* driver = [] {
    auto* d = new Driver();
    d->dark_api = new DarkApi(*d);
    return d;
  }();
  return *driver;
}

Driver::Driver() {
  if (const char* n = std::getenv("GPUPOOL_TEST_DRIVER_DEVICES")) device_count_ = std::atoi(n);
  if (device_count_ < 0 || device_count_ > 8) device_count_ = 1;
  if (const char* skew = std::getenv("GPUPOOL_TEST_DRIVER_SKEW")) skew_ = skew;
  primaries_.resize(static_cast<std::size_t>(device_count_));
  for (int i = 0; i < device_count_; ++i) {
    primaries_[static_cast<std::size_t>(i)].device = i;
    primaries_[static_cast<std::size_t>(i)].id = 7 + static_cast<unsigned long long>(i);
  }
}

DeviceIdentity Driver::PublicIdentity(CUdevice device) const {
  DeviceIdentity identity;
  for (int b = 0; b < 16; ++b) identity.uuid.bytes[b] = static_cast<char>(0xa0 + 16 * device + b);
  identity.pci_domain = 0;
  identity.pci_bus = 0x19 + 0x10 * device;
  identity.pci_device = 0;
  return identity;
}

int Driver::Attribute(CUdevice device, CUdevice_attribute attribute) const {
  switch (attribute) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return 48 * 1024;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 64 * 1024;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 64 * 1024;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return 132;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return 9;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return 0;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return 2048;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: return 1;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: return 1;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: return PublicIdentity(device).pci_domain;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return PublicIdentity(device).pci_bus;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: return PublicIdentity(device).pci_device;
    default: return 0;
  }
}

CUresult Driver::DriverVersion(int* version) {
  *version = PublicDriverVersion() + (skew_ == "driver_version" ? 10 : 0);
  return CUDA_SUCCESS;
}

CUresult Driver::DeviceCount(int* count) {
  *count = device_count_;
  return CUDA_SUCCESS;
}

CUresult Driver::Identity(CUdevice device, DeviceIdentity* identity) {
  if (device < 0 || device >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  *identity = PublicIdentity(device);
  if (skew_ == "pci_bus") identity->pci_bus += 1;
  return CUDA_SUCCESS;
}

CUresult Driver::PrimaryContext(CUdevice device, CUcontext* context) {
  if (device < 0 || device >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  *context = AsHandle(primary(device));
  return CUDA_SUCCESS;
}

CUresult Driver::CurrentContext(CUcontext* context) {
  *context = current;
  return CUDA_SUCCESS;
}

Context* Driver::AsContext(CUcontext context) {
  for (Context& c : primaries_) {
    if (AsHandle(&c) == context) return &c;
  }
  return nullptr;
}

CUresult Driver::CheckContext(CUcontext context) {
  return AsContext(context) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult Driver::ContextId(CUcontext context, unsigned long long* id) {
  Context* c = AsContext(context);
  if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  *id = c->id;
  return CUDA_SUCCESS;
}

// The test driver creates no streams: only the default ones exist, named after their context.
CUresult Driver::StreamIdentity(CUcontext context, CUstream stream, unsigned long long* id) {
  Context* c = AsContext(context);
  if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (stream != CU_STREAM_LEGACY && stream != CU_STREAM_PER_THREAD) return CUDA_ERROR_INVALID_HANDLE;
  *id = c->id * 4 + (stream == CU_STREAM_LEGACY ? 1 : 2);
  return CUDA_SUCCESS;
}

// Modules are not this driver's business (see LoadModule).
CUresult Driver::ModuleFunctions(CUmodule, std::vector<CUfunction>*) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult Driver::LoadModule(const void*, CUmodule*) {
  // CUDA 13's runtime loads modules with cuLibraryLoadData; nothing calls this here.
  return CUDA_ERROR_NOT_SUPPORTED;
}

void Driver::DestroyPrimary(CUdevice device) {
  Context* c = primary(device);
  const std::size_t before = dark_api->storage().size();
  dark_api->OnContextDestroyed(AsHandle(c));
  std::fprintf(stderr,
               "gpupool test driver: primary context of device %d destroyed, %zu context-local values\n",
               device, before - dark_api->storage().size());
  c->retained = 0;
  c->id += 100;  // a destroyed context's successor is another context
}

}  // namespace gpupool::dark_api::test_driver
