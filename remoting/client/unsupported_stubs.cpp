// The driver functions gpupool does not implement (unsupported.def): each is exported so
// programs linked against the full driver load, and answers CUDA_ERROR_NOT_SUPPORTED, logging its name once.
// No cuda.h here: the stubs ignore their arguments, which the x86-64 and AArch64 calling
// conventions allow (the caller owns its argument registers and stack).
#include "common/log.h"

namespace {

constexpr int kCudaErrorNotSupported = 801;  // CUDA_ERROR_NOT_SUPPORTED

int NotSupported(const char* name) {
  GPUPOOL_LOG_ONCE(kWarn, name) << name << " is not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
  return kCudaErrorNotSupported;
}

}  // namespace

extern "C" {
#define GPUPOOL_UNSUPPORTED(symbol)                     \
  __attribute__((visibility("default"))) int symbol() { \
    return NotSupported(#symbol);                       \
  }
#include "remoting/client/unsupported.def"
#undef GPUPOOL_UNSUPPORTED
}
