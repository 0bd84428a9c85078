// A real gpupool-server (emulated device) driven through the protocol: handshake, memory round
// trips, handle and pointer validation, latched asynchronous errors, memory limits.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>

#include "remoting/server/virtual_memory.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

TEST_CASE("sessions get distinct ids and device queries answer") {
  ServerProcess server = ServerProcess::Start({"--emulated-gpus", "2"});
  TestClient a = TestClient::Open(server.endpoint);
  TestClient b = TestClient::Open(server.endpoint);
  CHECK(a.session_id() != b.session_id());
  auto count = a.Call<Op::DeviceGetCount>({});
  REQUIRE(count.result == CUDA_SUCCESS);
  CHECK(std::get<0>(count.fields) == 2);
  auto attrs = a.Call<Op::DeviceGetAttributes>({0});
  REQUIRE(attrs.result == CUDA_SUCCESS);
  CHECK(std::get<0>(attrs.fields).at(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) == 9);
  CHECK(a.Result<Op::DeviceGetName>({7}) == CUDA_ERROR_INVALID_DEVICE);
}

TEST_CASE("alloc, chunked copies at unaligned offsets, memset and free round-trip") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::uint64_t size = 3 * protocol::kChunkSize + 123;
  auto alloc = c.Call<Op::MemAlloc>({size});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  std::uint64_t ptr = std::get<0>(alloc.fields);
  std::string data = Pattern(size - 7, 1);
  for (std::size_t off = 0; off < data.size(); off += protocol::kChunkSize) {  // chunk by chunk, offset 7
    std::string_view chunk = std::string_view(data).substr(off, protocol::kChunkSize);
    REQUIRE(c.Result<Op::MemcpyHtoD>({ptr + 7 + off}, chunk) == CUDA_SUCCESS);
  }
  std::string back;
  for (std::size_t off = 0; off < data.size(); off += protocol::kChunkSize) {
    std::uint64_t n = std::min<std::uint64_t>(protocol::kChunkSize, data.size() - off);
    auto got = c.Call<Op::MemcpyDtoH>({ptr + 7 + off, n});
    REQUIRE(got.result == CUDA_SUCCESS);
    back += got.tail;
  }
  CHECK(back == data);

  c.Call<Op::MemsetD8>({ptr + 8, 0xab, 5, 0});  // async: no reply
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
  auto set = c.Call<Op::MemcpyDtoH>({ptr + 7, 8});
  REQUIRE(set.result == CUDA_SUCCESS);
  CHECK(set.tail == data.substr(0, 1) + std::string(5, '\xab') + data.substr(6, 2));

  auto dtod = c.Call<Op::MemAlloc>({64});
  REQUIRE(dtod.result == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemcpyDtoD>({std::get<0>(dtod.fields), ptr + 100, 64}) == CUDA_SUCCESS);
  CHECK(c.Call<Op::MemcpyDtoH>({std::get<0>(dtod.fields), 64}).tail == data.substr(93, 64));

  CHECK(c.Result<Op::MemFree>({ptr}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemFree>({ptr}) == CUDA_ERROR_INVALID_VALUE);        // double free
  CHECK(c.Result<Op::MemcpyDtoH>({ptr, 1}) == CUDA_ERROR_INVALID_VALUE);  // use after free
}

TEST_CASE("pointers and sizes outside the session's allocations are refused") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  TestClient other = TestClient::Open(server.endpoint);
  c.UseDevice0();
  other.UseDevice0();
  std::uint64_t ptr = std::get<0>(c.Call<Op::MemAlloc>({4096}).fields);
  // Each worker has its own device address space in the emulator, so the other session's pointer is
  // placed where ours is not: past a first, larger allocation.
  REQUIRE(other.Result<Op::MemAlloc>({1 << 20}) == CUDA_SUCCESS);
  std::uint64_t theirs = std::get<0>(other.Call<Op::MemAlloc>({4096}).fields);
  REQUIRE((theirs + 4096 <= ptr || theirs >= ptr + 4096));
  struct Case {
    const char* what;
    std::uint64_t src;
    std::uint64_t size;
    bool host_copy_too;  // the same range as a host-to-device copy of min(size, 200) bytes is also bad
  };
  for (Case k :
       {Case{"one past the end", ptr + 4096, 1, true}, Case{"copy past the end", ptr + 4000, 100, true},
        Case{"before the start", ptr - 1, 1, true}, Case{"another session's memory", theirs, 16, true},
        Case{"size wraps around", ptr + 16, UINT64_MAX - 8, false},
        Case{"never allocated", 0x1234, 4, true}}) {
    INFO(k.what);
    CHECK(c.Result<Op::MemcpyDtoH>({k.src, k.size}) == CUDA_ERROR_INVALID_VALUE);
    if (k.host_copy_too) {
      CHECK(c.Result<Op::MemcpyHtoD>({k.src}, std::string(std::min<std::uint64_t>(k.size, 200), 'x')) ==
            CUDA_ERROR_INVALID_VALUE);
    }
    CHECK(c.Result<Op::MemcpyDtoD>({ptr, k.src, k.size}) == CUDA_ERROR_INVALID_VALUE);
  }
  // An overflowing memset count is latched and reported by the next synchronising call.
  c.Call<Op::MemsetD32>({ptr, 0, 1ull << 62, 0});
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);              // reported once
  CHECK(c.Result<Op::MemFree>({ptr + 8}) == CUDA_ERROR_INVALID_VALUE);  // not an allocation's start
  CHECK(c.Result<Op::MemFree>({theirs}) == CUDA_ERROR_INVALID_VALUE);
  // The other session's memory is untouched and still its own.
  CHECK(other.Result<Op::MemFree>({theirs}) == CUDA_SUCCESS);
}

TEST_CASE("unknown handles are INVALID_HANDLE, async errors are latched until a sync call") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  CHECK(c.Result<Op::StreamSynchronize>({0xdead}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::EventQuery>({0x1001}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::ModuleGetFunction>({0x5555, "k"}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::CtxDestroy>({42}) == CUDA_ERROR_INVALID_HANDLE);

  auto stream = c.Call<Op::StreamCreate>({0});
  REQUIRE(stream.result == CUDA_SUCCESS);
  std::uint64_t s = std::get<0>(stream.fields);
  // An event id used as a stream, and a stream id used as an event: ids are typed.
  auto event = c.Call<Op::EventCreate>({0});
  REQUIRE(event.result == CUDA_SUCCESS);
  std::uint64_t e = std::get<0>(event.fields);
  CHECK(c.Result<Op::StreamQuery>({e}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::EventQuery>({s}) == CUDA_ERROR_INVALID_HANDLE);

  c.Call<Op::EventRecord>({e, 0xbad});                      // async, fails: latched
  c.Call<Op::StreamWaitEvent>({s, 0xbad, 0});               // a second failure is not reported separately
  CHECK(c.Result<Op::DeviceGetCount>({}) == CUDA_SUCCESS);  // non-synchronising calls don't report it
  CHECK(c.Result<Op::StreamSynchronize>({s}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::StreamSynchronize>({s}) == CUDA_SUCCESS);
  c.Call<Op::EventRecord>({e, s});
  CHECK(c.Result<Op::EventSynchronize>({e}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::StreamDestroy>({s}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::StreamSynchronize>({s}) == CUDA_ERROR_INVALID_HANDLE);  // destroyed
}

TEST_CASE("a session memory limit is the device's memory and allocations beyond it fail") {
  ServerProcess server = ServerProcess::Start({"--session-memory", "64MiB"});
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  auto info = c.Call<Op::MemGetInfo>({});
  REQUIRE(info.result == CUDA_SUCCESS);
  CHECK(std::get<1>(info.fields) == 64ull << 20);
  CHECK(std::get<0>(info.fields) == 64ull << 20);
  auto first = c.Call<Op::MemAlloc>({48ull << 20});
  REQUIRE(first.result == CUDA_SUCCESS);
  CHECK(std::get<0>(c.Call<Op::MemGetInfo>({}).fields) == 16ull << 20);
  CHECK(c.Result<Op::MemAlloc>({32ull << 20}) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(c.Result<Op::MemAllocPitch>({4096, 8192, 4}) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(c.Result<Op::MemFree>({std::get<0>(first.fields)}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemAlloc>({32ull << 20}) == CUDA_SUCCESS);
  // Each session has its own limit.
  TestClient d = TestClient::Open(server.endpoint);
  d.UseDevice0();
  CHECK(d.Result<Op::MemAlloc>({60ull << 20}) == CUDA_SUCCESS);
}

TEST_CASE("virtual memory: only the session's own handles and reservations, counted against its limit") {
  ServerProcess server = ServerProcess::Start({"--session-memory", "64MiB"});
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  auto granularity = c.Call<Op::MemGetAllocationGranularity>({0, CU_MEM_ALLOC_GRANULARITY_MINIMUM});
  REQUIRE(granularity.result == CUDA_SUCCESS);
  const std::uint64_t g = std::get<0>(granularity.fields);
  REQUIRE(g == 2ull << 20);
  CHECK(c.Result<Op::MemGetAllocationGranularity>({0, 99}) == CUDA_ERROR_INVALID_VALUE);
  auto reserve = c.Call<Op::MemAddressReserve>({8 * g, 0, 0});
  REQUIRE(reserve.result == CUDA_SUCCESS);
  const std::uint64_t base = std::get<0>(reserve.fields);
  auto created = c.Call<Op::MemCreate>({2 * g, 0, 0});
  REQUIRE(created.result == CUDA_SUCCESS);
  const std::uint64_t handle = std::get<0>(created.fields);
  CHECK(std::get<0>(c.Call<Op::MemGetInfo>({}).fields) == (64ull << 20) - 2 * g);  // charged at once
  // The limit counts physical memory with allocations: 64 MiB = 32 granules, 2 taken.
  CHECK(c.Result<Op::MemCreate>({32 * g, 0, 0}) == CUDA_ERROR_OUT_OF_MEMORY);

  // Handles and addresses the session does not own never reach the driver.
  CHECK(c.Result<Op::MemMap>({base, 2 * g, 0, handle + 1000}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemMap>({0x100000, 2 * g, 0, handle}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemMap>({base + 7 * g, 2 * g, 0, handle}) == CUDA_ERROR_INVALID_VALUE);  // past its end
  CHECK(c.Result<Op::MemMap>({base, UINT64_MAX - base + 1, 0, handle}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemRelease>({handle + 1000}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemRetainAllocationHandle>({base}) == CUDA_ERROR_INVALID_VALUE);  // nothing mapped
  CHECK(c.Result<Op::MemGetAllocationPropertiesFromHandle>({handle + 1000}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemAddressFree>({base, 4 * g}) == CUDA_ERROR_INVALID_VALUE);
  REQUIRE(c.Result<Op::MemMap>({base + 2 * g, 2 * g, 0, handle}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemMap>({base + 3 * g, 2 * g, 0, handle}) == CUDA_ERROR_INVALID_VALUE);  // overlaps
  CHECK(c.Result<Op::MemUnmap>({base + 2 * g, g}) == CUDA_ERROR_INVALID_VALUE);               // half of it
  CHECK(c.Result<Op::MemSetAccess>({base + 2 * g, 2 * g, {0, 0}, {3}}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemSetAccess>({base + 2 * g, 2 * g, {}, {}}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::MemSetAccess>({base + 2 * g, 2 * g, {0}, {-5}}) == CUDA_ERROR_INVALID_VALUE);
  REQUIRE(c.Result<Op::MemSetAccess>({base + 2 * g, 2 * g, {0}, {CU_MEM_ACCESS_FLAGS_PROT_READWRITE}}) ==
          CUDA_SUCCESS);
  const std::string data = Pattern(4096, 3);
  REQUIRE(c.Result<Op::MemcpyHtoD>({base + 2 * g + 100}, data) == CUDA_SUCCESS);
  CHECK(c.Call<Op::MemcpyDtoH>({base + 2 * g + 100, 4096}).tail == data);
  CHECK(c.Result<Op::MemcpyHtoD>({base + 4 * g - 10}, data) == CUDA_ERROR_INVALID_VALUE);  // past the mapping
  CHECK(c.Result<Op::MemFree>({base + 2 * g}) == CUDA_ERROR_INVALID_VALUE);

  // Another session sees none of it, and gets its own 64 MiB.
  TestClient d = TestClient::Open(server.endpoint);
  d.UseDevice0();
  CHECK(d.Result<Op::MemcpyDtoH>({base + 2 * g, 16}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(d.Result<Op::MemRelease>({handle}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(d.Result<Op::MemMap>({base, 2 * g, 0, handle}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(d.Result<Op::MemCreate>({30 * g, 0, 0}) == CUDA_SUCCESS);

  // Released but mapped: still charged; unmapped: given back.
  REQUIRE(c.Result<Op::MemRelease>({handle}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::MemRelease>({handle}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(std::get<0>(c.Call<Op::MemGetInfo>({}).fields) == (64ull << 20) - 2 * g);
  auto retained = c.Call<Op::MemRetainAllocationHandle>({base + 3 * g});
  REQUIRE(retained.result == CUDA_SUCCESS);
  CHECK(std::get<0>(retained.fields) == handle);
  CHECK(c.Result<Op::MemRelease>({handle}) == CUDA_SUCCESS);
  // References are bounded: the session's end releases each one with a driver call.
  std::uint64_t retained_now = 0;
  for (std::uint64_t i = 0; i < server::VirtualMemory::kMaxReferences; ++i) {
    if (c.Result<Op::MemRetainAllocationHandle>({base + 2 * g}) != CUDA_SUCCESS) break;
    ++retained_now;
  }
  CHECK(retained_now == server::VirtualMemory::kMaxReferences);
  CHECK(c.Result<Op::MemRetainAllocationHandle>({base + 2 * g}) == CUDA_ERROR_OUT_OF_MEMORY);
  for (std::uint64_t i = 0; i < retained_now; ++i)
    REQUIRE(c.Result<Op::MemRelease>({handle}) == CUDA_SUCCESS);
  REQUIRE(c.Result<Op::MemAddressFree>({base, 8 * g}) == CUDA_SUCCESS);  // unmaps what is inside
  CHECK(std::get<0>(c.Call<Op::MemGetInfo>({}).fields) == 64ull << 20);
  CHECK(c.Result<Op::MemcpyDtoH>({base + 2 * g, 16}) == CUDA_ERROR_INVALID_VALUE);
}

// How a sweep of real programs finds what the device refused, also when the program ignores it:
// at debug level the worker names each error a call is answered with; at the default level it does not.
TEST_CASE("at debug level the server names every call it answers with an error") {
  for (const bool debug : {true, false}) {
    INFO((debug ? "debug" : "default") << " log level");
    ServerProcess server =
        ServerProcess::Start({}, debug ? std::map<std::string, std::string>{{"GPUPOOL_LOG_LEVEL", "debug"}}
                                       : std::map<std::string, std::string>{});
    {
      TestClient c = TestClient::Open(server.endpoint);
      c.UseDevice0();
      CHECK(c.Result<Op::MemFree>({0x1234}) == CUDA_ERROR_INVALID_VALUE);  // not an allocation
      CHECK(c.Result<Op::CtxSynchronize>({}) == CUDA_SUCCESS);
    }  // the session ends: its last line follows every line it logged before
    REQUIRE(server.process.WaitForLine("session ended", std::chrono::seconds(30)).ok());
    const bool named =
        server.process.output().find("MemFree answered CUDA_ERROR_INVALID_VALUE") != std::string::npos;
    CHECK(named == debug);
    CHECK(server.process.output().find("CtxSynchronize answered") == std::string::npos);  // successes are not
  }
}

}  // namespace
}  // namespace gpupool::testing
