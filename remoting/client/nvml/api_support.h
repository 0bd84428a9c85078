// What every NVML export needs: its linkage and the library's state.
#pragma once

#include "remoting/client/nvml/devices.h"

// Exported with C linkage; libnvidia-ml.map keeps everything else local.
#define GPUPOOL_NVML_API extern "C" __attribute__((visibility("default")))

#define GPUPOOL_NVML_RETURN_IF_ERROR(expr)                       \
  do {                                                           \
    if (nvmlReturn_t r_ = (expr); r_ != NVML_SUCCESS) return r_; \
  } while (0)
