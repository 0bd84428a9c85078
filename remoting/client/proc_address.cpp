#include "remoting/client/proc_address.h"

#include "common/log.h"

namespace gpupool::client {

ProcLookup LookupProc(const ProcTable& table, std::string_view base, int cuda_version, bool per_thread) {
  ProcLookup found;
  const ProcVariant* legacy = nullptr;
  const ProcVariant* threaded = nullptr;
  for (int i = 0; i < table.count; ++i) {
    const ProcVariant& v = table.variants[i];
    if (base != v.base) continue;
    if (found.status == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND)
      found.status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
    if (v.version > cuda_version) continue;
    const ProcVariant*& best = v.stream == StreamKind::kPerThread ? threaded : legacy;
    if (best == nullptr || v.version > best->version) best = &v;
  }
  const ProcVariant* pick = per_thread && threaded != nullptr ? threaded : legacy;
  if (pick == nullptr) pick = threaded;  // only per-thread variants exist at this version
  if (pick != nullptr) {
    found.status = CU_GET_PROC_ADDRESS_SUCCESS;
    found.variant = pick;
  }
  return found;
}

namespace {

// A function gpupool exports only as a stub answering CUDA_ERROR_NOT_SUPPORTED (and logging its name
// once when called). A runtime that gets CUDA_ERROR_NOT_FOUND for it instead reports
// cudaErrorCallRequiresNewerDriver and nothing is logged; found, the program sees
// cudaErrorNotSupported and the log names the function (issue 3, "Bad input"). Only names no
// variant has at any version: an older ABI of an implemented function (cuMemcpyHtoD below 3.2)
// stays VERSION_NOT_SUFFICIENT.
ProcLookup LookupUnsupported(const ProcTable& table, std::string_view base) {
  ProcLookup found;
  for (int i = 0; i < table.unsupported_count; ++i) {
    if (base != table.unsupported[i].base) continue;
    found.status = CU_GET_PROC_ADDRESS_SUCCESS;
    found.variant = &table.unsupported[i];
    break;
  }
  return found;
}

}  // namespace

CUresult GetProcAddress(const ProcTable& table, const char* symbol, void** pfn, int cuda_version,
                        cuuint64_t flags, CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  constexpr cuuint64_t kKnown =
      CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  if ((flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  const bool per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  ProcLookup found = LookupProc(table, symbol, cuda_version, per_thread);
  if (found.status == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND) found = LookupUnsupported(table, symbol);
  if (status != nullptr) *status = found.status;
  if (found.variant == nullptr) {
    GPUPOOL_LOG(kDebug) << "cuGetProcAddress(" << symbol << ", " << cuda_version << "): not implemented";
    *pfn = nullptr;
    return CUDA_ERROR_NOT_FOUND;
  }
  *pfn = found.variant->function;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
