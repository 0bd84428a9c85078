// Expands export_tables.def into the slot arrays cuGetExportTable hands out, the UUID lookup and the
// names traces print.
#include "remoting/client/dark_api/export_tables.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "common/log.h"
#include "remoting/client/dark_api/slots.h"

namespace gpupool::dark_api {
namespace {

constexpr int kTableCount = static_cast<int>(TableId::kCount);

constexpr std::array<TableInfo, kTableCount> kTables = {{
#define GPUPOOL_DARK_TABLE(id, name, uuid, slots, disposition) \
  {TableId::k##id, name, UuidLiteral(uuid), slots, Disposition::disposition},
#define GPUPOOL_DARK_SIZE(id)
#define GPUPOOL_DARK_SLOT(id, index, name, ret, params, evidence)
#include "remoting/client/dark_api/export_tables.def"
#undef GPUPOOL_DARK_TABLE
#undef GPUPOOL_DARK_SIZE
#undef GPUPOOL_DARK_SLOT
}};

constexpr int kMaxSlots = [] {
  int most = 0;
  for (const TableInfo& t : kTables) most = std::max(most, t.slot_count);
  return most;
}();

// A slot nobody has established: logs once which one was called, and fails the call. Callers pass
// whatever arguments the real slot takes; the x86-64 and AArch64 calling conventions let a function
// that reads none of them ignore them, and a caller expecting void ignores the result.
template <int kTable, int kSlot>
std::uintptr_t Placeholder() {
  const TableInfo& table = kTables[kTable];
  std::string key = "dark_api.placeholder." + std::string(table.name) + "." + std::to_string(kSlot);
  GPUPOOL_LOG_ONCE(kWarn, key) << "private export table " << table.name << " slot " << kSlot
                               << " is not implemented; returning CUDA_ERROR_NOT_SUPPORTED"
                               << " (docs/dark-api.md explains how to trace it)";
  return CUDA_ERROR_NOT_SUPPORTED;
}

struct Built {
  const void* slots[kTableCount][kMaxSlots] = {};
  SlotInfo info[kTableCount][kMaxSlots] = {};
};

template <int kTable, int... kSlot>
void FillPlaceholders(Built& built, std::integer_sequence<int, kSlot...>) {
  ((built.slots[kTable][kSlot] = reinterpret_cast<const void*>(&Placeholder<kTable, kSlot>),
    built.info[kTable][kSlot] = SlotInfo{"placeholder", Evidence::kPlaceholder}),
   ...);
}

template <int... kTable>
void FillAllPlaceholders(Built& built, std::integer_sequence<int, kTable...>) {
  (FillPlaceholders<kTable>(built, std::make_integer_sequence<int, kMaxSlots>()), ...);
}

Built Build() {
  Built built;
  FillAllPlaceholders(built, std::make_integer_sequence<int, kTableCount>());
#define GPUPOOL_DARK_TABLE(id, name, uuid, slots, disposition)
#define GPUPOOL_DARK_SIZE(id)                                                                             \
  built.slots[static_cast<int>(TableId::k##id)][0] = reinterpret_cast<const void*>(                       \
      static_cast<std::uintptr_t>(kTables[static_cast<int>(TableId::k##id)].slot_count) * sizeof(void*)); \
  built.info[static_cast<int>(TableId::k##id)][0] = SlotInfo{"size", Evidence::kSize};
#define GPUPOOL_DARK_SLOT(id, index, name, ret, params, evidence)                                            \
  static_assert(index < kTables[static_cast<int>(TableId::k##id)].slot_count, "slot past the end");          \
  built.slots[static_cast<int>(TableId::k##id)][index] = reinterpret_cast<const void*>(&slots::id##_##name); \
  built.info[static_cast<int>(TableId::k##id)][index] = SlotInfo{#name, Evidence::evidence};
#include "remoting/client/dark_api/export_tables.def"
#undef GPUPOOL_DARK_TABLE
#undef GPUPOOL_DARK_SIZE
#undef GPUPOOL_DARK_SLOT
  return built;
}

const Built& Tables() {
  static const Built built = Build();
  return built;
}

}  // namespace

const std::array<TableInfo, kTableCount>& AllTables() {
  return kTables;
}

const TableInfo& Table(TableId id) {
  return kTables[static_cast<int>(id)];
}

std::optional<TableId> FindTable(const CUuuid& uuid) {
  for (const TableInfo& table : kTables) {
    if (std::memcmp(table.uuid.data(), uuid.bytes, table.uuid.size()) == 0) return table.id;
  }
  return std::nullopt;
}

const void* const* TableSlots(TableId id) {
  return Tables().slots[static_cast<int>(id)];
}

SlotInfo Slot(TableId id, int index) {
  if (index < 0 || index >= Table(id).slot_count) return SlotInfo{"out of range", Evidence::kPlaceholder};
  return Tables().info[static_cast<int>(id)][index];
}

std::string UuidString(const std::uint8_t* bytes) {
  char text[37];
  std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return text;
}

}  // namespace gpupool::dark_api
