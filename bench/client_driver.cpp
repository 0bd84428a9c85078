#include "bench/client_driver.h"

#include <dlfcn.h>

namespace gpupool::bench {

Result<ClientDriver> LoadClientDriver(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return Status::NotFound("cannot load " + library + ": " + dlerror());
  ClientDriver d{};
  bool ok = true;
  auto get = [&](auto* slot, const char* symbol) {
    *slot = reinterpret_cast<std::remove_pointer_t<decltype(slot)>>(dlsym(handle, symbol));
    ok = ok && *slot != nullptr;
  };
  get(&d.Init, "cuInit");
  get(&d.DeviceGet, "cuDeviceGet");
  get(&d.PrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  get(&d.CtxSetCurrent, "cuCtxSetCurrent");
  get(&d.CtxSynchronize, "cuCtxSynchronize");
  get(&d.MemAlloc, "cuMemAlloc_v2");
  get(&d.MemFree, "cuMemFree_v2");
  get(&d.MemcpyHtoD, "cuMemcpyHtoD_v2");
  get(&d.MemcpyDtoH, "cuMemcpyDtoH_v2");
  get(&d.MemAllocHost, "cuMemAllocHost_v2");
  get(&d.MemFreeHost, "cuMemFreeHost");
  get(&d.MemHostGetDevicePointer, "cuMemHostGetDevicePointer_v2");
  get(&d.MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  get(&d.Memcpy2D, "cuMemcpy2D_v2");
  get(&d.Memcpy2DAsync, "cuMemcpy2DAsync_v2");
  get(&d.StreamSynchronize, "cuStreamSynchronize");
  get(&d.ModuleLoadData, "cuModuleLoadData");
  get(&d.ModuleGetFunction, "cuModuleGetFunction");
  get(&d.LaunchKernel, "cuLaunchKernel");
  get(&d.MemGetAllocationGranularity, "cuMemGetAllocationGranularity");
  get(&d.MemAddressReserve, "cuMemAddressReserve");
  get(&d.MemAddressFree, "cuMemAddressFree");
  get(&d.MemCreate, "cuMemCreate");
  get(&d.MemRelease, "cuMemRelease");
  get(&d.MemMap, "cuMemMap");
  get(&d.MemUnmap, "cuMemUnmap");
  get(&d.MemSetAccess, "cuMemSetAccess");
  get(&d.MemAllocManaged, "cuMemAllocManaged");
  get(&d.MemsetD8, "cuMemsetD8_v2");
  get(&d.StreamCreate, "cuStreamCreate");
  get(&d.StreamDestroy, "cuStreamDestroy_v2");
  get(&d.StreamBeginCapture, "cuStreamBeginCapture_v2");
  get(&d.StreamEndCapture, "cuStreamEndCapture");
  get(&d.GraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
  get(&d.GraphLaunch, "cuGraphLaunch");
  get(&d.GraphExecDestroy, "cuGraphExecDestroy");
  get(&d.GraphDestroy, "cuGraphDestroy");
  if (!ok) return Status::NotFound(library + " lacks a driver entry point the bench needs");
  return d;
}

}  // namespace gpupool::bench
