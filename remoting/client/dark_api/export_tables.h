// The private export tables of export_tables.def: what each one is, where its slots live, and the
// names traces print. cuGetExportTable itself is DarkApi::GetExportTable (dark_api.h).
//
// Thread-safety: everything here is immutable after the first call (built once, thread-safe).
// Pointer lifetime: table storage and names are static; they live as long as the library.
#pragma once

#include <cuda.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gpupool::dark_api {

enum class TableId : int {
#define GPUPOOL_DARK_TABLE(id, name, uuid, slots, disposition) k##id,
#define GPUPOOL_DARK_SIZE(id)
#define GPUPOOL_DARK_SLOT(id, index, name, ret, params, evidence)
#include "remoting/client/dark_api/export_tables.def"
#undef GPUPOOL_DARK_TABLE
#undef GPUPOOL_DARK_SIZE
#undef GPUPOOL_DARK_SLOT
  kCount
};

enum class Disposition { kServed, kRefused, kRefusedQuietly };
enum class Evidence { kObserved, kInferred, kPublished, kPlaceholder, kSize };

using Uuid = std::array<std::uint8_t, 16>;

struct TableInfo {
  TableId id;
  std::string_view name;
  Uuid uuid;
  int slot_count;  // 0 for refused tables
  Disposition disposition;
};

struct SlotInfo {
  std::string_view name;  // "get_primary_context", "size", or "placeholder"
  Evidence evidence;
};

// Every table of export_tables.def, in its order.
const std::array<TableInfo, static_cast<int>(TableId::kCount)>& AllTables();
const TableInfo& Table(TableId id);
std::optional<TableId> FindTable(const CUuuid& uuid);
// The slot array the application receives for a served table (slot_count pointers).
const void* const* TableSlots(TableId id);
SlotInfo Slot(TableId id, int index);
// "6bd5fb6c-5bf4-e74a-8987-d93912fd9df9": the id bytes in memory order, as export_tables.def writes them.
std::string UuidString(const std::uint8_t* bytes);

// "6bd5fb6c-5bf4-e74a-8987-d93912fd9df9" (dashes anywhere, either case) to bytes; nullopt when it is
// not 32 hex digits.
constexpr std::optional<Uuid> ParseUuid(std::string_view text) {
  constexpr auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Uuid out{};
  int n = 0;
  int high = -1;
  for (char c : text) {
    if (c == '-') continue;
    const int v = nibble(c);
    if (v < 0 || n >= 16) return std::nullopt;
    if (high < 0) {
      high = v;
    } else {
      out[static_cast<std::size_t>(n++)] = static_cast<std::uint8_t>(high << 4 | v);
      high = -1;
    }
  }
  if (n != 16 || high >= 0) return std::nullopt;
  return out;
}

// Not defined: reaching it while evaluating UuidLiteral fails the build.
void MalformedUuidInExportTablesDef();

// The def file's uuids, parsed at compile time.
consteval Uuid UuidLiteral(std::string_view text) {
  const std::optional<Uuid> uuid = ParseUuid(text);
  if (!uuid) MalformedUuidInExportTablesDef();
  return *uuid;
}

}  // namespace gpupool::dark_api
