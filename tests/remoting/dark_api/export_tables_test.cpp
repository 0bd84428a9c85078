#include "remoting/client/dark_api/export_tables.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

namespace gpupool::dark_api {
namespace {

TEST_CASE("every export table has a distinct UUID and name") {
  std::set<std::string> uuids;
  std::set<std::string_view> names;
  for (const TableInfo& table : AllTables()) {
    uuids.insert(UuidString(table.uuid.data()));
    names.insert(table.name);
  }
  CHECK(uuids.size() == AllTables().size());
  CHECK(names.size() == AllTables().size());
}

TEST_CASE("UUIDs print in memory order, as the def file writes them") {
  const TableInfo& cudart = Table(TableId::kCudartInterface);
  CHECK(cudart.uuid[0] == 0x6b);
  CHECK(cudart.uuid[15] == 0xf9);
  CHECK(UuidString(cudart.uuid.data()) == "6bd5fb6c-5bf4-e74a-8987-d93912fd9df9");
}

TEST_CASE("UUID text parses only as 32 hex digits") {
  CHECK(ParseUuid("6BD5FB6C-5BF4-E74A-8987-D93912FD9DF9") == Table(TableId::kCudartInterface).uuid);
  CHECK_FALSE(ParseUuid("").has_value());
  CHECK_FALSE(ParseUuid("6bd5fb6c-5bf4-e74a-8987-d93912fd9df").has_value());    // 31 digits
  CHECK_FALSE(ParseUuid("6bd5fb6c-5bf4-e74a-8987-d93912fd9df9a").has_value());  // 33
  CHECK_FALSE(ParseUuid("6bd5fb6c-5bf4-e74a-8987-d93912fd9dfg").has_value());
}

TEST_CASE("lookup by UUID finds each table and nothing else") {
  for (const TableInfo& table : AllTables()) {
    CUuuid id;
    for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<char>(table.uuid[static_cast<std::size_t>(i)]);
    const auto found = FindTable(id);
    REQUIRE(found.has_value());
    CHECK(*found == table.id);
    id.bytes[7] ^= 0x40;
    CHECK(FindTable(id) != table.id);
  }
  CUuuid zero{};
  CHECK_FALSE(FindTable(zero).has_value());
}

TEST_CASE("served tables have a function or a size in every slot") {
  for (const TableInfo& table : AllTables()) {
    if (table.disposition != Disposition::kServed) {
      CHECK(table.slot_count == 0);
      continue;
    }
    INFO(table.name);
    REQUIRE(table.slot_count > 0);
    const void* const* slots = TableSlots(table.id);
    for (int i = 0; i < table.slot_count; ++i) {
      INFO("slot " << i << " (" << Slot(table.id, i).name << ")");
      CHECK(slots[i] != nullptr);
      if (Slot(table.id, i).evidence == Evidence::kSize) {
        CHECK(i == 0);
        CHECK(reinterpret_cast<std::uintptr_t>(slots[i]) ==
              static_cast<std::uintptr_t>(table.slot_count) * 8);
      }
    }
  }
}

TEST_CASE("the slots the CUDA 13 runtime calls are where it calls them") {
  struct Expect {
    TableId table;
    int slot;
    std::string_view name;
  };
  const Expect expected[] = {
      {TableId::kCudartInterface, 2, "get_primary_context"},
      {TableId::kToolsRuntimeCallbackHooks, 2, "get_runtime_hooks"},
      {TableId::kToolsRuntimeCallbackHooks, 6, "get_runtime_hooks2"},
      {TableId::kContextLocalStorage, 0, "context_local_storage_put"},
      {TableId::kContextLocalStorage, 1, "context_local_storage_delete"},
      {TableId::kContextLocalStorage, 2, "context_local_storage_get"},
      {TableId::kIntegrityCheck, 1, "integrity_check"},
      {TableId::kContextChecks, 2, "context_check"},
      {TableId::kContextChecks, 3, "check_fn3"},
      {TableId::kToolsTls, 2, "get_tools_context"},
      {TableId::kContextIdentity, 4, "context_get_unique_id"},
      {TableId::kContextIdentity, 39, "stream_get_identity"},
      {TableId::kContextIdentity, 51, "stream_get_handle"},
      {TableId::kModuleWalk, 7, "walk_functions"},
      {TableId::kBlasLtQuery, 4, "get_blob"},
  };
  for (const Expect& e : expected) {
    CHECK(Slot(e.table, e.slot).name == e.name);
  }
  // The runtime refuses to start unless this table is at least 7 slots long.
  CHECK(reinterpret_cast<std::uintptr_t>(TableSlots(TableId::kToolsRuntimeCallbackHooks)[0]) >= 56);
  // Slot 0 of the context-local storage table is a function, not a size.
  CHECK(Slot(TableId::kContextLocalStorage, 0).evidence == Evidence::kObserved);
  CHECK(Slot(TableId::kCudartInterface, 7).evidence == Evidence::kPlaceholder);
  CHECK(Slot(TableId::kCudartInterface, 10).name == "out of range");
  // cuBLAS reads slot 51 of this table without looking at its size.
  CHECK(reinterpret_cast<std::uintptr_t>(TableSlots(TableId::kContextIdentity)[0]) == 95 * sizeof(void*));
}

TEST_CASE("a placeholder slot fails with CUDA_ERROR_NOT_SUPPORTED") {
  using Untyped = std::uintptr_t (*)();
  const void* slot = TableSlots(TableId::kCudartInterface)[7];
  CHECK(reinterpret_cast<Untyped>(const_cast<void*>(slot))() == CUDA_ERROR_NOT_SUPPORTED);
  const void* other = TableSlots(TableId::kToolsTls)[1];
  CHECK(other != slot);
  CHECK(reinterpret_cast<Untyped>(const_cast<void*>(other))() == CUDA_ERROR_NOT_SUPPORTED);
}

}  // namespace
}  // namespace gpupool::dark_api
