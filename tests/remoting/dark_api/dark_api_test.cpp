// The export tables as the CUDA runtime uses them: fetched with cuGetExportTable by UUID and
// called through the slot pointers with the observed signatures.
#include "remoting/client/dark_api/dark_api.h"

#include <pthread.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "remoting/client/dark_api/export_tables.h"
#include "remoting/client/dark_api/integrity_check.h"
#include "tests/remoting/dark_api/fake_host.h"

namespace gpupool::dark_api {
namespace {

using testing::FakeDarkApiHost;

CUuuid Id(TableId table) {
  CUuuid id;
  for (int i = 0; i < 16; ++i)
    id.bytes[i] = static_cast<char>(Table(table).uuid[static_cast<std::size_t>(i)]);
  return id;
}

// The slot `index` of `table`, fetched as the runtime does, typed as `F`.
template <typename F>
F SlotOf(DarkApi& api, TableId table, int index) {
  const void* slots = nullptr;
  const CUuuid id = Id(table);
  REQUIRE(api.GetExportTable(&slots, &id) == CUDA_SUCCESS);
  return reinterpret_cast<F>(const_cast<void*>(static_cast<const void* const*>(slots)[index]));
}

CUuuid Parse(const char* text) {
  const Uuid bytes = ParseUuid(text).value();
  CUuuid id;
  for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<char>(bytes[static_cast<std::size_t>(i)]);
  return id;
}

TEST_CASE("cuGetExportTable serves known tables and refuses the rest") {
  FakeDarkApiHost host;
  DarkApi api(host);
  const void* table = nullptr;
  const CUuuid cudart = Parse("6bd5fb6c-5bf4-e74a-8987-d93912fd9df9");
  REQUIRE(api.GetExportTable(&table, &cudart) == CUDA_SUCCESS);
  CHECK(table == TableSlots(TableId::kCudartInterface));

  const CUuuid module_walk = Parse("6e163fbe-b958-444d-835c-e182aff1991e");  // cuFFT's
  REQUIRE(api.GetExportTable(&table, &module_walk) == CUDA_SUCCESS);
  CHECK(table == TableSlots(TableId::kModuleWalk));

  for (const char* uuid : {"f8cff951-2146-8b4e-b9e2-fb469e7c0dd9",     // asked by every runtime
                           "da9151d3-3ae6-cc41-a5c0-4f26d533e328",     // asked by NVRTC and nvJitLink
                           "0ca50b8c-1004-929a-89a7-d0df10e77286",     // published, never asked
                           "00112233-4455-6677-8899-aabbccddeeff"}) {  // unknown
    INFO(uuid);
    const CUuuid id = Parse(uuid);
    table = &api;
    CHECK(api.GetExportTable(&table, &id) == CUDA_ERROR_NOT_SUPPORTED);
    CHECK(table == &api);  // untouched
  }
  CHECK(api.GetExportTable(nullptr, &cudart) == CUDA_ERROR_INVALID_VALUE);
  CHECK(api.GetExportTable(&table, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("CUDART_INTERFACE hands out primary contexts and loads registered modules") {
  FakeDarkApiHost host(2);
  DarkApi api(host);
  auto get_primary = SlotOf<CUresult (*)(CUcontext*, CUdevice)>(api, TableId::kCudartInterface, 2);
  CUcontext context = nullptr;
  REQUIRE(get_primary(&context, 1) == CUDA_SUCCESS);
  CHECK(context == host.primary(1));
  CHECK(get_primary(&context, 2) == CUDA_ERROR_INVALID_DEVICE);
  CHECK(get_primary(nullptr, 0) == CUDA_ERROR_INVALID_VALUE);

  const unsigned wrapper[4] = {0x466243b1, 1, 0, 0};
  auto load = SlotOf<CUresult (*)(CUmodule*, const void*)>(api, TableId::kCudartInterface, 1);
  CUmodule module = nullptr;
  REQUIRE(load(&module, wrapper) == CUDA_SUCCESS);
  CHECK(module != nullptr);
  REQUIRE(host.loaded_images.size() == 1);
  CHECK(host.loaded_images[0] == wrapper);
  CHECK(load(&module, nullptr) == CUDA_ERROR_INVALID_VALUE);

  auto load_ext1 =
      SlotOf<CUresult (*)(CUmodule*, const void*, void*, void*, unsigned)>(api, TableId::kCudartInterface, 6);
  CHECK(load_ext1(&module, wrapper, nullptr, nullptr, 0) == CUDA_SUCCESS);
  int unknown = 0;
  CHECK(load_ext1(&module, wrapper, &unknown, nullptr, 0) == CUDA_ERROR_NOT_SUPPORTED);
  auto load_ext2 =
      SlotOf<CUresult (*)(const void*, CUmodule*, void*, void*, unsigned)>(api, TableId::kCudartInterface, 8);
  CHECK(load_ext2(wrapper, &module, nullptr, nullptr, 0) == CUDA_SUCCESS);
  CHECK(load_ext2(wrapper, &module, nullptr, nullptr, 3) == CUDA_ERROR_NOT_SUPPORTED);
  CHECK(host.loaded_images.size() == 3);
}

TEST_CASE("context-local storage slots follow the current context and its destruction") {
  FakeDarkApiHost host;
  DarkApi api(host);
  FakeDarkApiHost::SetCurrent(nullptr);
  using Put = CUresult (*)(CUcontext, void*, void*, ContextStorageDestructor);
  using Get = CUresult (*)(void**, CUcontext, void*);
  using Delete = CUresult (*)(CUcontext, void*);
  auto put = SlotOf<Put>(api, TableId::kContextLocalStorage, 0);
  auto del = SlotOf<Delete>(api, TableId::kContextLocalStorage, 1);
  auto get = SlotOf<Get>(api, TableId::kContextLocalStorage, 2);
  int key = 0;
  int value = 0;
  void* out = nullptr;

  // The runtime's first question, before any context is current: an error means "set it up".
  CHECK(get(&out, nullptr, &key) == CUDA_ERROR_INVALID_CONTEXT);
  CHECK(put(nullptr, &key, &value, nullptr) == CUDA_ERROR_INVALID_CONTEXT);

  const CUcontext primary = host.primary(0);
  FakeDarkApiHost::SetCurrent(primary);
  CHECK(get(&out, nullptr, &key) == CUDA_ERROR_INVALID_HANDLE);
  static int destroyed = 0;
  destroyed = 0;
  REQUIRE(put(nullptr, &key, &value,
              [](CUcontext, void*, void* v) { destroyed = *static_cast<int*>(v) + 1; }) == CUDA_SUCCESS);
  REQUIRE(get(&out, primary, &key) == CUDA_SUCCESS);  // explicit context = the current one
  CHECK(out == &value);

  const CUcontext other = host.NewContext();
  CHECK(get(&out, other, &key) == CUDA_ERROR_INVALID_HANDLE);
  host.Kill(other);
  CHECK(put(other, &key, &value, nullptr) == CUDA_ERROR_INVALID_CONTEXT);

  value = 41;
  api.OnContextDestroyed(primary);
  CHECK(destroyed == 42);
  CHECK(get(&out, nullptr, &key) == CUDA_ERROR_INVALID_HANDLE);

  REQUIRE(put(nullptr, &key, &value, nullptr) == CUDA_SUCCESS);
  CHECK(del(primary, &key) == CUDA_SUCCESS);
  CHECK(del(primary, &key) == CUDA_ERROR_INVALID_HANDLE);
  FakeDarkApiHost::SetCurrent(nullptr);
}

TEST_CASE("INTEGRITY_CHECK hashes this process, thread, tables and every device") {
  FakeDarkApiHost host(2);
  host.driver_version = 13020;
  DarkApi api(host);
  auto check =
      SlotOf<CUresult (*)(unsigned, std::uint64_t, std::uint64_t*)>(api, TableId::kIntegrityCheck, 1);
  std::uint64_t result[2] = {};
  REQUIRE(check(13002, 1795305691, result) == CUDA_SUCCESS);

  IntegrityInputs in;
  in.driver_version = 13020;
  in.requested_version = 13002;
  in.process_id = static_cast<std::uint32_t>(getpid());
  in.thread_id = static_cast<std::uint32_t>(pthread_self());
  in.cudart_table = reinterpret_cast<std::uintptr_t>(TableSlots(TableId::kCudartInterface));
  in.integrity_table = reinterpret_cast<std::uintptr_t>(TableSlots(TableId::kIntegrityCheck));
  in.check_function = reinterpret_cast<std::uintptr_t>(TableSlots(TableId::kIntegrityCheck)[1]);
  in.unix_seconds = 1795305691;
  const auto expected = IntegrityAnswer(in, host.identities());
  CHECK(result[0] == expected[0]);
  CHECK(result[1] == expected[1]);

  // Another thread gets another answer (the runtime checks on the thread that asks).
  std::uint64_t other[2] = {};
  std::thread([&] { REQUIRE(check(13002, 1795305691, other) == CUDA_SUCCESS); }).join();
  CHECK((other[0] != result[0] || other[1] != result[1]));

  host.fail_with = CUDA_ERROR_DEVICE_UNAVAILABLE;
  CHECK(check(13002, 1, result) == CUDA_ERROR_DEVICE_UNAVAILABLE);
  CHECK(check(13002, 1, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("tools and context-check slots answer as the runtime expects") {
  FakeDarkApiHost host;
  DarkApi api(host);
  using Hooks = void (*)(void**, std::size_t*);
  for (auto [slot, minimum] : {std::pair{2, std::size_t{1024}}, std::pair{6, std::size_t{14}}}) {
    void* buffer = nullptr;
    std::size_t size = 0;
    SlotOf<Hooks>(api, TableId::kToolsRuntimeCallbackHooks, slot)(&buffer, &size);
    REQUIRE(buffer != nullptr);
    CHECK(size >= minimum);
    const auto* entries = static_cast<const std::uint64_t*>(buffer);
    for (std::size_t i = 0; i < size; ++i) REQUIRE(entries[i] == 0);  // no tool attached
  }

  unsigned wrapped = 7;
  CUcontext unwrapped = nullptr;
  auto context_check =
      SlotOf<CUresult (*)(CUcontext, unsigned*, CUcontext*)>(api, TableId::kContextChecks, 2);
  CHECK(context_check(host.primary(0), &wrapped, &unwrapped) == CUDA_SUCCESS);
  CHECK(wrapped == 0);
  CHECK(unwrapped == host.primary(0));
  CHECK(SlotOf<unsigned (*)()>(api, TableId::kContextChecks, 3)() == 0);

  FakeDarkApiHost::SetCurrent(host.primary(0));
  CUcontext tools_context = nullptr;
  CHECK(SlotOf<CUresult (*)(CUcontext*)>(api, TableId::kToolsTls, 2)(&tools_context) == CUDA_SUCCESS);
  CHECK(tools_context == host.primary(0));
  auto unique_id = SlotOf<CUresult (*)(CUcontext, unsigned long long*)>(api, TableId::kContextIdentity, 4);
  unsigned long long primary_id = 0;
  unsigned long long current_id = 0;
  unsigned long long other_id = 0;
  REQUIRE(unique_id(tools_context, &primary_id) == CUDA_SUCCESS);
  REQUIRE(unique_id(nullptr, &current_id) == CUDA_SUCCESS);
  REQUIRE(unique_id(host.NewContext(), &other_id) == CUDA_SUCCESS);
  CHECK(primary_id == current_id);
  CHECK(primary_id != other_id);
  FakeDarkApiHost::SetCurrent(nullptr);
  CHECK(unique_id(nullptr, &current_id) == CUDA_ERROR_INVALID_CONTEXT);
}

// cuBLAS keys a workspace with what slot 39 says of slot 51's handle: two streams must never share it.
TEST_CASE("CONTEXT_IDENTITY names each stream with its own number") {
  FakeDarkApiHost host;
  DarkApi api(host);
  auto get_handle =
      SlotOf<CUresult (*)(CUcontext, CUstream, CUstream*, unsigned)>(api, TableId::kContextIdentity, 51);
  auto get_identity =
      SlotOf<CUresult (*)(CUcontext, CUstream, unsigned long long*)>(api, TableId::kContextIdentity, 39);
  auto identity = [&](CUcontext context, CUstream stream, unsigned per_thread) {
    CUstream handle = nullptr;
    REQUIRE(get_handle(context, stream, &handle, per_thread) == CUDA_SUCCESS);
    unsigned long long id = 0;
    REQUIRE(get_identity(context, handle, &id) == CUDA_SUCCESS);
    return id;
  };
  const CUcontext primary = host.primary(0);
  const CUcontext other = host.NewContext();
  const CUstream a = host.NewStream();
  const CUstream b = host.NewStream();
  const std::vector<unsigned long long> ids = {
      identity(primary, nullptr, 0), identity(primary, nullptr, 1), identity(other, nullptr, 0),
      identity(primary, a, 0),       identity(primary, b, 0),
  };
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (std::size_t j = i + 1; j < ids.size(); ++j) CHECK(ids[i] != ids[j]);
  }
  CHECK(identity(primary, a, 0) == ids[3]);                     // the same stream keeps its number
  CHECK(identity(primary, CU_STREAM_LEGACY, 0) == ids[0]);      // null is the legacy stream...
  CHECK(identity(primary, CU_STREAM_PER_THREAD, 1) == ids[1]);  // ...or, with the flag, the per-thread one

  FakeDarkApiHost::SetCurrent(primary);
  CHECK(identity(nullptr, nullptr, 0) == ids[0]);  // a null context is the current one
  FakeDarkApiHost::SetCurrent(nullptr);

  CUstream handle = nullptr;
  host.DestroyStream(b);
  CHECK(get_handle(primary, b, &handle, 0) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(get_handle(primary, reinterpret_cast<CUstream>(0x7), &handle, 0) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(get_handle(nullptr, a, &handle, 0) == CUDA_ERROR_INVALID_CONTEXT);  // none current
  host.Kill(other);
  CHECK(get_handle(other, a, &handle, 0) == CUDA_ERROR_INVALID_CONTEXT);
  CHECK(get_handle(primary, a, nullptr, 0) == CUDA_ERROR_INVALID_VALUE);
  unsigned long long id = 0;
  CHECK(get_identity(primary, b, &id) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(get_identity(primary, a, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

// cuFFT gets the function of each module it loads from MODULE_WALK slot 7 and takes only 1 as success.
TEST_CASE("MODULE_WALK hands every function of a module to the callback") {
  FakeDarkApiHost host;
  DarkApi api(host);
  const auto* slots = TableSlots(TableId::kModuleWalk);
  CHECK(reinterpret_cast<std::uintptr_t>(slots[0]) >= 56);  // cuFFT refuses a smaller table
  auto walk =
      SlotOf<int (*)(CUcontext, CUmodule, void (*)(void*, CUfunction), void*)>(api, TableId::kModuleWalk, 7);
  CUmodule module = nullptr;
  REQUIRE(host.LoadModule("image", &module) == CUDA_SUCCESS);
  std::vector<CUfunction> seen;
  auto collect = [](void* user, CUfunction f) { static_cast<std::vector<CUfunction>*>(user)->push_back(f); };
  CHECK(walk(host.primary(0), module, collect, &seen) == 1);
  std::vector<CUfunction> want;
  REQUIRE(host.ModuleFunctions(module, &want) == CUDA_SUCCESS);
  CHECK(seen == want);
  CHECK(seen.size() == 1);

  host.functions_per_module = 3;
  seen.clear();
  CHECK(walk(host.primary(0), module, collect, &seen) == 1);
  CHECK(seen.size() == 3);

  seen.clear();
  CHECK(walk(host.primary(0), reinterpret_cast<CUmodule>(0x7777), collect, &seen) == 0);  // no such module
  CHECK(seen.empty());
  CHECK(walk(host.primary(0), module, nullptr, nullptr) == 0);
}

TEST_CASE("slots called with no DarkApi alive report CUDA_ERROR_DEINITIALIZED") {
  const void* const* slots = TableSlots(TableId::kContextLocalStorage);
  auto get = reinterpret_cast<CUresult (*)(void**, CUcontext, void*)>(const_cast<void*>(slots[2]));
  void* out = nullptr;
  REQUIRE(DarkApi::Active() == nullptr);
  CHECK(get(&out, nullptr, nullptr) == CUDA_ERROR_DEINITIALIZED);
  auto check = reinterpret_cast<CUresult (*)(unsigned, std::uint64_t, std::uint64_t*)>(
      const_cast<void*>(TableSlots(TableId::kIntegrityCheck)[1]));
  std::uint64_t result[2];
  CHECK(check(13002, 0, result) == CUDA_ERROR_DEINITIALIZED);
}

}  // namespace
}  // namespace gpupool::dark_api
