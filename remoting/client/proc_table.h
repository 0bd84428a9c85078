// The table of implemented driver-function variants (proc_variants.def) with their addresses,
// which exports_table.cpp fills. Kept free of cuda.h: that file declares the ABI symbols itself.
//
// Thread-safety: constants.
#pragma once

namespace gpupool::client {

enum class StreamKind { kLegacy, kPerThread };

struct ProcVariant {
  const char* base;
  const char* symbol;
  int version;
  StreamKind stream;
  void* function;
};

struct ProcTable {
  const ProcVariant* variants;
  int count;
};

// Every variant the client implements (exports_table.cpp).
ProcTable ExportedProcs();

}  // namespace gpupool::client
