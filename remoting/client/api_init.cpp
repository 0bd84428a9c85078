// Initialisation, versions, error names, cuGetProcAddress and cuGetExportTable.
#include <cstring>

#include "remoting/client/api_support.h"
#include "remoting/client/client_dark_api_host.h"
#include "remoting/client/proc_address.h"
#include "remoting/protocol/result_names.h"

using namespace gpupool::client;

GPUPOOL_API CUresult cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return State::Get().Init();
}

// The CUDA version of the API gpupool implements, whatever the server's driver: the runtime
// compares it with its own, and the export tables must report the same number.
GPUPOOL_API CUresult cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuGetErrorName(CUresult error, const char** name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *name = gpupool::protocol::ResultName(static_cast<std::uint32_t>(error));
  return *name != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

GPUPOOL_API CUresult cuGetErrorString(CUresult error, const char** text) {
  if (text == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *text = gpupool::protocol::ResultString(static_cast<std::uint32_t>(error));
  return *text != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

GPUPOOL_API CUresult cuGetExportTable(const void** table, const CUuuid* id) {
  return TheDarkApi().GetExportTable(table, id);
}

GPUPOOL_API CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                         CUdriverProcAddressQueryResult* status) {
  return GetProcAddress(ExportedProcs(), symbol, pfn, cuda_version, flags, status);
}

// The 11.3 ABI, without the status argument.
#undef cuGetProcAddress
GPUPOOL_API CUresult cuGetProcAddress(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags) {
  return GetProcAddress(ExportedProcs(), symbol, pfn, cuda_version, flags, nullptr);
}
