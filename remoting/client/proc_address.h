// The versioned symbol lookup behind cuGetProcAddress: base name + the caller's CUDA version +
// the per-thread-default-stream flag -> the ABI variant the caller was compiled against
// (proc_variants.def lists them: cuMemAlloc -> cuMemAlloc_v2, cuMemcpyHtoD + per-thread ->
// cuMemcpyHtoD_v2_ptds, cuCtxCreate at 12.0 -> cuCtxCreate_v3, ...).
//
// Thread-safety: pure functions over constant tables.
#pragma once

#include <cuda.h>

#include <string_view>

#include "remoting/client/proc_table.h"

namespace gpupool::client {

struct ProcLookup {
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  const ProcVariant* variant = nullptr;
};

// The newest variant of `base` whose version is <= `cuda_version`; with `per_thread`, a per-thread
// variant when the function has one (others fall back to their legacy variant, as in CUDA).
ProcLookup LookupProc(const ProcTable& table, std::string_view base, int cuda_version, bool per_thread);

// cuGetProcAddress_v2 over `table`, flags as in cuda.h. CU_GET_PROC_ADDRESS_DEFAULT means per-thread
// when the program was built with --default-stream per-thread, which only it knows, so DEFAULT is
// the legacy stream here as in the driver.
CUresult GetProcAddress(const ProcTable& table, const char* symbol, void** pfn, int cuda_version,
                        cuuint64_t flags, CUdriverProcAddressQueryResult* status);

}  // namespace gpupool::client
