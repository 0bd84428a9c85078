// The address of every implemented variant and of every unsupported stub (unsupported.def), for
// cuGetProcAddress. This file deliberately does not include cuda.h:
// it declares each exported symbol as a plain function so the table can name the ABI symbols (cuMemAlloc_v2,
// cuMemcpyHtoD_v2_ptds) that cuda.h hides behind macros. A symbol in proc_variants.def that the
// client does not define fails the link.
#include "remoting/client/proc_table.h"

extern "C" {
#define GPUPOOL_PROC(base, symbol, version, stream) void symbol();
#include "remoting/client/proc_variants.def"
#undef GPUPOOL_PROC
#define GPUPOOL_UNSUPPORTED(symbol) void symbol();
#include "remoting/client/unsupported.def"
#undef GPUPOOL_UNSUPPORTED
}

namespace gpupool::client {
namespace {

const ProcVariant kVariants[] = {
#define GPUPOOL_PROC(base, symbol, version, stream) \
  {#base, #symbol, version, StreamKind::stream, reinterpret_cast<void*>(&::symbol)},
#include "remoting/client/proc_variants.def"
#undef GPUPOOL_PROC
};

const ProcVariant kUnsupported[] = {
#define GPUPOOL_UNSUPPORTED(symbol) \
  {#symbol, #symbol, 0, StreamKind::kLegacy, reinterpret_cast<void*>(&::symbol)},
#include "remoting/client/unsupported.def"
#undef GPUPOOL_UNSUPPORTED
};

}  // namespace

ProcTable ExportedProcs() {
  return {kVariants, static_cast<int>(sizeof kVariants / sizeof kVariants[0]), kUnsupported,
          static_cast<int>(sizeof kUnsupported / sizeof kUnsupported[0])};
}

}  // namespace gpupool::client
