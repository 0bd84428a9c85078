// The NVML functions gpupool does not implement, or that a remote GPU cannot have (unsupported.def): exported
// so programs that link or look them up find them, each answering NVML_ERROR_NOT_SUPPORTED and logging its
// name once. The stubs ignore their arguments, which the x86-64 and AArch64 calling conventions allow (the
// caller owns its argument registers and stack).
#include "common/log.h"
#include "remoting/client/nvml/nvml_abi.h"

namespace {

nvmlReturn_t NotSupported(const char* name) {
  GPUPOOL_LOG_ONCE(kWarn, name) << name << " is not supported by gpupool; returning NVML_ERROR_NOT_SUPPORTED";
  return NVML_ERROR_NOT_SUPPORTED;
}

nvmlReturn_t Absent(const char* name) {
  GPUPOOL_LOG_ONCE(kDebug, name) << name << ": a remote GPU has no such thing in this machine; NOT_SUPPORTED";
  return NVML_ERROR_NOT_SUPPORTED;
}

}  // namespace

extern "C" {
#define GPUPOOL_NVML_UNSUPPORTED(symbol)                         \
  __attribute__((visibility("default"))) nvmlReturn_t symbol() { \
    return NotSupported(#symbol);                                \
  }
#define GPUPOOL_NVML_ABSENT(symbol)                              \
  __attribute__((visibility("default"))) nvmlReturn_t symbol() { \
    return Absent(#symbol);                                      \
  }
#include "remoting/client/nvml/unsupported.def"
#undef GPUPOOL_NVML_ABSENT
#undef GPUPOOL_NVML_UNSUPPORTED
}
