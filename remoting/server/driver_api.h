// DriverApi: the table of CUDA driver entry points a session worker calls.
//
// The worker never calls the driver directly; it calls through a DriverApi that one of two backends
// fills (remoting/server/backend.h):
//   - "cuda": the real libcuda.so.1, opened with dlopen at run time, so gpupool-server builds and
//     starts on machines without an NVIDIA driver;
//   - "emulated": remoting/server/emulated/, host memory and recorded launches, for tests on
//     machines without a GPU (docs/architecture.md §3.4).
// Signatures are the PFN typedefs of cudaTypedefs.h, so both backends are checked against NVIDIA's
// ABI by the compiler.
//
// Thread-safety: the table is immutable once filled; what the functions allow is the driver's
// (or the emulated device's) business.
#pragma once

#include <cuda.h>
#include <cudaProfilerTypedefs.h>
#include <cudaTypedefs.h>

namespace gpupool::server {

struct DriverApi {
#define GPUPOOL_DRIVER_FN(symbol, pfn) pfn symbol = nullptr;
#include "remoting/server/driver_functions.def"
#undef GPUPOOL_DRIVER_FN
};

}  // namespace gpupool::server
