// The driver entry points gpupool-bench calls, resolved from gpupool's libcuda.so.1 with dlopen
// (the bench itself does not link a libcuda, so it always measures the client next to it).
//
// Thread-safety: immutable after Load.
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>

#include <string>

#include "common/status.h"

namespace gpupool::bench {

struct ClientDriver {
  PFN_cuInit_v2000 Init;
  PFN_cuDeviceGet_v2000 DeviceGet;
  PFN_cuDevicePrimaryCtxRetain_v7000 PrimaryCtxRetain;
  PFN_cuCtxSetCurrent_v4000 CtxSetCurrent;
  PFN_cuCtxSynchronize_v2000 CtxSynchronize;
  PFN_cuMemAlloc_v3020 MemAlloc;
  PFN_cuMemFree_v3020 MemFree;
  PFN_cuMemcpyHtoD_v3020 MemcpyHtoD;
  PFN_cuMemcpyDtoH_v3020 MemcpyDtoH;
  PFN_cuMemAllocHost_v3020 MemAllocHost;
  PFN_cuMemFreeHost_v2000 MemFreeHost;
  PFN_cuMemHostGetDevicePointer_v3020 MemHostGetDevicePointer;
  PFN_cuMemcpyDtoHAsync_v3020 MemcpyDtoHAsync;
  PFN_cuMemcpy2D_v3020 Memcpy2D;
  PFN_cuMemcpy2DAsync_v3020 Memcpy2DAsync;
  PFN_cuStreamSynchronize_v2000 StreamSynchronize;
  PFN_cuModuleLoadData_v2000 ModuleLoadData;
  PFN_cuModuleGetFunction_v2000 ModuleGetFunction;
  PFN_cuLaunchKernel_v4000 LaunchKernel;
  PFN_cuMemGetAllocationGranularity_v10020 MemGetAllocationGranularity;
  PFN_cuMemAddressReserve_v10020 MemAddressReserve;
  PFN_cuMemAddressFree_v10020 MemAddressFree;
  PFN_cuMemCreate_v10020 MemCreate;
  PFN_cuMemRelease_v10020 MemRelease;
  PFN_cuMemMap_v10020 MemMap;
  PFN_cuMemUnmap_v10020 MemUnmap;
  PFN_cuMemSetAccess_v10020 MemSetAccess;
  PFN_cuMemAllocManaged_v6000 MemAllocManaged;
  PFN_cuMemsetD8_v3020 MemsetD8;
  PFN_cuStreamCreate_v2000 StreamCreate;
  PFN_cuStreamDestroy_v4000 StreamDestroy;
  PFN_cuStreamBeginCapture_v10010 StreamBeginCapture;
  PFN_cuStreamEndCapture_v10000 StreamEndCapture;
  PFN_cuGraphInstantiateWithFlags_v11040 GraphInstantiateWithFlags;
  PFN_cuGraphLaunch_v10000 GraphLaunch;
  PFN_cuGraphExecDestroy_v10000 GraphExecDestroy;
  PFN_cuGraphDestroy_v10000 GraphDestroy;
};

// Loads `library` (a path to libcuda.so.1) and resolves every entry.
Result<ClientDriver> LoadClientDriver(const std::string& library);

}  // namespace gpupool::bench
