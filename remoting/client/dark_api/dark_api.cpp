#include "remoting/client/dark_api/dark_api.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "common/log.h"
#include "remoting/client/dark_api/export_tables.h"

namespace gpupool::dark_api {
namespace {

std::atomic<DarkApi*> g_active{nullptr};

}  // namespace

DarkApi::DarkApi(DarkApiHost& host) : host_(host) {
  DarkApi* expected = nullptr;
  if (!g_active.compare_exchange_strong(expected, this)) {
    GPUPOOL_LOG(kError) << "a second DarkApi was created while one is live; this is a bug";
    std::abort();
  }
}

DarkApi::~DarkApi() {
  DarkApi* expected = this;
  g_active.compare_exchange_strong(expected, nullptr);
}

DarkApi* DarkApi::Active() {
  return g_active.load(std::memory_order_acquire);
}

CUresult DarkApi::GetExportTable(const void** table, const CUuuid* id) {
  if (table == nullptr || id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(id->bytes);
  const std::optional<TableId> found = FindTable(*id);
  if (!found) {
    const std::string uuid = UuidString(bytes);
    GPUPOOL_LOG_ONCE(kWarn, "dark_api.unknown." + uuid)
        << "cuGetExportTable: unknown private export table " << uuid
        << " requested; answering CUDA_ERROR_NOT_SUPPORTED (docs/dark-api.md explains how to trace it)";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const TableInfo& info = Table(*found);
  switch (info.disposition) {
    case Disposition::kServed:
      *table = TableSlots(*found);
      GPUPOOL_LOG(kTrace) << "cuGetExportTable(" << info.name << ") -> " << *table;
      return CUDA_SUCCESS;
    case Disposition::kRefusedQuietly:
      GPUPOOL_LOG(kTrace) << "cuGetExportTable(" << info.name << ") -> CUDA_ERROR_NOT_SUPPORTED (expected)";
      return CUDA_ERROR_NOT_SUPPORTED;
    case Disposition::kRefused:
      GPUPOOL_LOG_ONCE(kWarn, "dark_api.refused." + std::string(info.name))
          << "cuGetExportTable: private export table " << info.name << " (" << UuidString(bytes)
          << ") is not implemented; answering CUDA_ERROR_NOT_SUPPORTED";
      return CUDA_ERROR_NOT_SUPPORTED;
  }
  return CUDA_ERROR_NOT_SUPPORTED;
}

void DarkApi::OnContextDestroyed(CUcontext context) {
  GPUPOOL_LOG(kTrace) << "dark_api: context " << static_cast<const void*>(context)
                      << " destroyed; running its context-local storage destructors";
  storage_.DestroyContext(context);
}

}  // namespace gpupool::dark_api
