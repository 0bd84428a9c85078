// The address of every implemented variant, and of every refused one (refused.def), for
// cuGetProcAddress. This file deliberately does not include cuda.h: it declares each exported
// symbol as a plain function so the table can name the ABI symbols (cuMemAlloc_v2,
// cuMemcpyHtoD_v2_ptds) that cuda.h hides behind macros. A symbol in proc_variants.def that the
// client does not define fails the link.
#include "remoting/client/proc_table.h"

extern "C" {
#define GPUPOOL_PROC(base, symbol, version, stream) void symbol();
#include "remoting/client/proc_variants.def"
#define GPUPOOL_REFUSED GPUPOOL_PROC
#include "remoting/client/refused.def"
#undef GPUPOOL_REFUSED
#undef GPUPOOL_PROC
}

namespace gpupool::client {
namespace {

const ProcVariant kVariants[] = {
#define GPUPOOL_PROC(base, symbol, version, stream) \
  {#base, #symbol, version, StreamKind::stream, reinterpret_cast<void*>(&::symbol)},
#include "remoting/client/proc_variants.def"
#define GPUPOOL_REFUSED GPUPOOL_PROC
#include "remoting/client/refused.def"
#undef GPUPOOL_REFUSED
#undef GPUPOOL_PROC
};

}  // namespace

ProcTable ExportedProcs() {
  return {kVariants, static_cast<int>(sizeof kVariants / sizeof kVariants[0])};
}

}  // namespace gpupool::client
