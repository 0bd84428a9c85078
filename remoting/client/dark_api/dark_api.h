// DarkApi: gpupool's answer to cuGetExportTable, the CUDA driver's private interface to the CUDA
// runtime (static and shared) and to the NVIDIA libraries that embed one. export_tables.def lists
// the tables; docs/dark-api.md explains them.
//
// The client creates one DarkApi at start-up over its DarkApiHost and keeps it for the life of the
// process (runtimes call CONTEXT_LOCAL_STORAGE slots from their atexit handlers):
//   static auto* dark_api = new dark_api::DarkApi(host);       // once
//   CUresult cuGetExportTable(const void** t, const CUuuid* id) { return dark_api->GetExportTable(t, id); }
//   cuDevicePrimaryCtxReset / last cuDevicePrimaryCtxRelease / cuCtxDestroy:
//     dark_api->OnContextDestroyed(ctx);   // before the context goes away
// Slot functions find the instance through Active(); with none (before construction, after
// destruction) they return CUDA_ERROR_DEINITIALIZED.
//
// Thread-safety: all methods are safe to call from any thread. At most one instance exists at a
// time (tests create them one after another). `host` must outlive the DarkApi.
#pragma once

#include <cuda.h>

#include "remoting/client/dark_api/context_local_storage.h"
#include "remoting/client/dark_api/dark_api_host.h"

namespace gpupool::dark_api {

class DarkApi {
 public:
  explicit DarkApi(DarkApiHost& host);
  ~DarkApi();
  DarkApi(const DarkApi&) = delete;
  DarkApi& operator=(const DarkApi&) = delete;

  // cuGetExportTable. Served tables: *table = their slots, CUDA_SUCCESS. Refused and unknown ones:
  // CUDA_ERROR_NOT_SUPPORTED, logged once per table (the runtime and the libraries treat any error
  // as "not available"). Null arguments: CUDA_ERROR_INVALID_VALUE.
  CUresult GetExportTable(const void** table, const CUuuid* id);
  // Runs the CONTEXT_LOCAL_STORAGE destructors of `context`. Call it while the context is still
  // valid, when it is destroyed or its primary context reset.
  void OnContextDestroyed(CUcontext context);

  DarkApiHost& host() { return host_; }
  ContextLocalStorage& storage() { return storage_; }

  // The live instance, or nullptr.
  static DarkApi* Active();

 private:
  DarkApiHost& host_;
  ContextLocalStorage storage_;
};

}  // namespace gpupool::dark_api
