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
  // Functions exported only as NOT_SUPPORTED stubs (unsupported.def), by exact name: what
  // cuGetProcAddress answers for a name no variant has at any version, so that the runtime reports
  // cudaErrorNotSupported and the stub logs the name, instead of cudaErrorCallRequiresNewerDriver.
  const ProcVariant* unsupported = nullptr;
  int unsupported_count = 0;
};

// Every variant the client implements (exports_table.cpp), and the unsupported stubs.
ProcTable ExportedProcs();

}  // namespace gpupool::client
