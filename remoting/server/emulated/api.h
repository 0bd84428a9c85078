// The emulated device's driver entry points, filled into a DriverApi by area. Each api_*.cpp file
// defines its functions with the exact cudaTypedefs.h signatures and assigns them in its Fill*
// function, so the compiler checks every signature against NVIDIA's ABI.
//
// Thread-safety: the functions lock the process-wide state (state.h).
#pragma once

#include <mutex>

#include "remoting/server/driver_api.h"
#include "remoting/server/emulated/state.h"

namespace gpupool::server::emulated {

void FillDeviceApi(DriverApi& api);           // init, versions, error names, devices
void FillContextApi(DriverApi& api);          // primary and created contexts, the context stack
void FillMemoryApi(DriverApi& api);           // allocation, host memory, pointer attributes
void FillVirtualMemoryApi(DriverApi& api);    // cuMemCreate, reservations, mappings, access
void FillCopyApi(DriverApi& api);             // copies and memsets
void FillArrayApi(DriverApi& api);            // CUDA arrays
void FillTextureApi(DriverApi& api);          // texture and surface objects
void FillStreamApi(DriverApi& api);           // streams, events, host functions
void FillStreamAttributeApi(DriverApi& api);  // stream attributes
void FillModuleApi(DriverApi& api);           // modules and libraries
void FillLinkApi(DriverApi& api);             // JIT linking (api_link.cpp, nvJitLink)
void FillFunctionApi(DriverApi& api);         // functions and kernels: names, layouts, attributes
void FillGreenContextApi(DriverApi& api);     // SM resources and green contexts
void FillTensorMapApi(DriverApi& api);        // tensor maps (TMA descriptors)
void FillOccupancyApi(DriverApi& api);        // occupancy
void FillLaunchApi(DriverApi& api);           // launches and occupancy
void FillIpcApi(DriverApi& api);              // interprocess memory and event handles

// Takes the state lock for the rest of the enclosing scope.
#define GPUPOOL_EMULATED_LOCK() std::lock_guard<std::mutex> gpupool_emulated_lock_(GetState().mu)

// Returns CUDA_ERROR_NOT_INITIALIZED before cuInit.
#define GPUPOOL_EMULATED_REQUIRE_INIT()                             \
  do {                                                              \
    if (!GetState().initialized) return CUDA_ERROR_NOT_INITIALIZED; \
  } while (0)

// Locks, then declares `Context* ctx` as the calling thread's current context, or returns the
// error (CUDA_ERROR_NOT_INITIALIZED / CUDA_ERROR_INVALID_CONTEXT).
#define GPUPOOL_CURRENT_CONTEXT(ctx) \
  GPUPOOL_EMULATED_LOCK();           \
  Context* ctx = nullptr;            \
  if (CUresult gpupool_ctx_r_ = RequireContext(&ctx); gpupool_ctx_r_ != CUDA_SUCCESS) return gpupool_ctx_r_

}  // namespace gpupool::server::emulated
