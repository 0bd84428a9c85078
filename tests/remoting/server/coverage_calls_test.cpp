// The calls behind the runtime's wider driver surface (occupancy lists and cluster queries, stream
// attributes, profiler ranges) through the real server on the emulated device: answers, and the
// errors for handles the session does not have and pointers outside its memory.
#include <catch2/catch.hpp>
#include <cstring>

#include "tests/remoting/server/image_upload.h"
#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

const char* const kPtx =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry k_copy(.param .u64 p)\n{\n  ret;\n}\n";

std::uint64_t LoadFunction(TestClient& c) {
  std::string hash = Upload(c, std::string(kPtx) + '\0');
  auto module = c.Call<Op::ModuleLoadData>({hash});
  REQUIRE(module.result == CUDA_SUCCESS);
  auto function = c.Call<Op::ModuleGetFunction>({std::get<0>(module.fields), "k_copy"});
  REQUIRE(function.result == CUDA_SUCCESS);
  return std::get<0>(function.fields);
}

std::string Bytes(const CUstreamAttrValue& v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

CUstreamAttrValue Value(const std::string& raw) {
  CUstreamAttrValue v{};
  REQUIRE(raw.size() == sizeof v);
  std::memcpy(&v, raw.data(), sizeof v);
  return v;
}

TEST_CASE("SYNC_MEMOPS is set on the session's own memory only") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  auto alloc = c.Call<Op::MemAlloc>({4096});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  const std::uint64_t p = std::get<0>(alloc.fields);
  CHECK(c.Result<Op::PointerSetSyncMemops>({p + 100, 1}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::PointerSetSyncMemops>({p, 0}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::PointerSetSyncMemops>({p + 4096, 1}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::PointerSetSyncMemops>({0x1000, 1}) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("occupancy lists answer each block size as the single query does") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::uint64_t f = LoadFunction(c);
  const protocol::i32s sizes = {1024, 512, 256, 100, 32};
  const protocol::u64s shared = {0, 4096, 0, 1 << 20, 0};
  auto list = c.Call<Op::OccupancyMaxActiveBlocksList>({f, 0u, sizes, shared});
  REQUIRE(list.result == CUDA_SUCCESS);
  const protocol::i32s& blocks = std::get<0>(list.fields);
  REQUIRE(blocks.size() == sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto one = c.Call<Op::OccupancyMaxActiveBlocksPerMultiprocessor>({f, sizes[i], shared[i], 0u});
    REQUIRE(one.result == CUDA_SUCCESS);
    CHECK(blocks[i] == std::get<0>(one.fields));
  }
  CHECK(blocks[3] == 0);  // 1 MiB of shared memory fits no block
  CHECK(blocks[2] > 0);

  CHECK(c.Result<Op::OccupancyMaxActiveBlocksList>({f, 0u, {256, 128}, {0}}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::OccupancyMaxActiveBlocksList>({f, 0x80u, {256}, {0}}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::OccupancyMaxActiveBlocksList>({f + 1000, 0u, {256}, {0}}) == CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("cluster occupancy takes a launch configuration with its attributes") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  const std::uint64_t f = LoadFunction(c);
  CUlaunchAttribute cluster{};
  cluster.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  cluster.value.clusterDim = {2, 1, 1};
  const std::string attrs(reinterpret_cast<const char*>(&cluster), sizeof cluster);
  auto size = c.Call<Op::OccupancyMaxPotentialClusterSize>({f, 8u, 1u, 1u, 128u, 1u, 1u, 0u, 0, attrs});
  REQUIRE(size.result == CUDA_SUCCESS);
  CHECK(std::get<0>(size.fields) >= 2);
  auto clusters = c.Call<Op::OccupancyMaxActiveClusters>({f, 8u, 1u, 1u, 128u, 1u, 1u, 0u, 0, attrs});
  REQUIRE(clusters.result == CUDA_SUCCESS);
  CHECK(std::get<0>(clusters.fields) > 0);

  CHECK(c.Result<Op::OccupancyMaxActiveClusters>({f, 8u, 1u, 1u, 128u, 1u, 1u, 0u, 0, attrs + "x"}) ==
        CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::OccupancyMaxActiveClusters>({f, 8u, 1u, 1u, 128u, 1u, 1u, 0u, 777, attrs}) ==
        CUDA_ERROR_INVALID_HANDLE);
  CUlaunchAttribute bad_event{};
  bad_event.id = CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT;
  std::uint64_t unknown = 4242;
  std::memcpy(static_cast<void*>(&bad_event.value.launchCompletionEvent.event), &unknown, sizeof unknown);
  CHECK(c.Result<Op::OccupancyMaxPotentialClusterSize>(
            {f, 8u, 1u, 1u, 128u, 1u, 1u, 0u, 0,
             std::string(reinterpret_cast<const char*>(&bad_event), sizeof bad_event)}) ==
        CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("stream attributes: set, get, copy, and what is refused") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  auto a = c.Call<Op::StreamCreate>({0u});
  auto b = c.Call<Op::StreamCreate>({0u});
  REQUIRE(a.result == CUDA_SUCCESS);
  REQUIRE(b.result == CUDA_SUCCESS);
  const std::uint64_t sa = std::get<0>(a.fields), sb = std::get<0>(b.fields);
  const auto sync = static_cast<std::int32_t>(CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY);
  const auto window = static_cast<std::int32_t>(CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW);

  auto initial = c.Call<Op::StreamGetAttribute>({sa, sync});
  REQUIRE(initial.result == CUDA_SUCCESS);
  CHECK(Value(std::get<0>(initial.fields)).syncPolicy == CU_SYNC_POLICY_AUTO);
  CUstreamAttrValue v{};
  v.syncPolicy = CU_SYNC_POLICY_BLOCKING_SYNC;
  REQUIRE(c.Result<Op::StreamSetAttribute>({sa, sync, Bytes(v)}) == CUDA_SUCCESS);
  CHECK(Value(std::get<0>(c.Call<Op::StreamGetAttribute>({sa, sync}).fields)).syncPolicy ==
        CU_SYNC_POLICY_BLOCKING_SYNC);
  REQUIRE(c.Result<Op::StreamCopyAttributes>({sb, sa}) == CUDA_SUCCESS);
  CHECK(Value(std::get<0>(c.Call<Op::StreamGetAttribute>({sb, sync}).fields)).syncPolicy ==
        CU_SYNC_POLICY_BLOCKING_SYNC);

  // An access policy window must cover the session's own memory.
  auto alloc = c.Call<Op::MemAlloc>({1 << 16});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  const std::uint64_t ptr = std::get<0>(alloc.fields);
  CUstreamAttrValue w{};
  w.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(ptr);
  w.accessPolicyWindow.num_bytes = 1 << 16;
  w.accessPolicyWindow.hitRatio = 0.5f;
  w.accessPolicyWindow.hitProp = CU_ACCESS_PROPERTY_PERSISTING;
  w.accessPolicyWindow.missProp = CU_ACCESS_PROPERTY_STREAMING;
  CHECK(c.Result<Op::StreamSetAttribute>({sa, window, Bytes(w)}) == CUDA_SUCCESS);
  CHECK(
      Value(std::get<0>(c.Call<Op::StreamGetAttribute>({sa, window}).fields)).accessPolicyWindow.num_bytes ==
      1u << 16);
  w.accessPolicyWindow.num_bytes = (1 << 16) + 1;  // one byte past the allocation
  CHECK(c.Result<Op::StreamSetAttribute>({sa, window, Bytes(w)}) == CUDA_ERROR_INVALID_VALUE);
  w.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(0x1000);
  w.accessPolicyWindow.num_bytes = 16;
  CHECK(c.Result<Op::StreamSetAttribute>({sa, window, Bytes(w)}) == CUDA_ERROR_INVALID_VALUE);

  v.syncPolicy = static_cast<CUsynchronizationPolicy>(9);
  CHECK(c.Result<Op::StreamSetAttribute>({sa, sync, Bytes(v)}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::StreamSetAttribute>({sa, sync, "short"}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::StreamGetAttribute>({sa, CU_LAUNCH_ATTRIBUTE_COOPERATIVE}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::StreamGetAttribute>({sa, -1}) == CUDA_ERROR_INVALID_VALUE);
  CHECK(c.Result<Op::StreamGetAttribute>({9999, sync}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::StreamCopyAttributes>({sa, 9999}) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(c.Result<Op::StreamGetAttribute>({0, sync}) == CUDA_SUCCESS);  // the NULL stream has them too
}

TEST_CASE("stream value writes land in stream order inside the session's memory") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  auto alloc = c.Call<Op::MemAlloc>({64});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  const std::uint64_t ptr = std::get<0>(alloc.fields);
  c.Call<Op::StreamWriteValue>({0, ptr + 4, 0xdeadbeefu, 0u, 4u});
  c.Call<Op::StreamWriteValue>({0, ptr + 8, 0x0123456789abcdefull, 0u, 8u});
  REQUIRE(c.Result<Op::StreamSynchronize>({0}) == CUDA_SUCCESS);
  const std::string bytes = c.Call<Op::MemcpyDtoH>({ptr, 16}).tail;
  REQUIRE(bytes.size() == 16);
  std::uint32_t word = 0;
  std::uint64_t wide = 0;
  std::memcpy(&word, bytes.data() + 4, 4);
  std::memcpy(&wide, bytes.data() + 8, 8);
  CHECK(word == 0xdeadbeefu);
  CHECK(wide == 0x0123456789abcdefull);

  struct Bad {
    const char* what;
    protocol::Call<Op::StreamWriteValue>::Request request;
    CUresult error;
  };
  const std::vector<Bad> bad = {
      {"past the allocation", {0, ptr + 64, 1, 0u, 4u}, CUDA_ERROR_INVALID_VALUE},
      {"not the session's memory", {0, 0x1000, 1, 0u, 8u}, CUDA_ERROR_INVALID_VALUE},
      {"width 2", {0, ptr, 1, 0u, 2u}, CUDA_ERROR_INVALID_VALUE},
      {"a 32-bit value too wide", {0, ptr, 1ull << 32, 0u, 4u}, CUDA_ERROR_INVALID_VALUE},
      {"unknown flags", {0, ptr, 1, 0x10u, 4u}, CUDA_ERROR_INVALID_VALUE},
      {"misaligned", {0, ptr + 2, 1, 0u, 4u}, CUDA_ERROR_INVALID_VALUE},
      {"unknown stream", {999, ptr, 1, 0u, 4u}, CUDA_ERROR_INVALID_HANDLE},
  };
  for (const Bad& b : bad) {
    INFO(b.what);
    c.Call<Op::StreamWriteValue>(b.request);
    CHECK(c.Result<Op::StreamSynchronize>({0}) == static_cast<std::uint32_t>(b.error));  // latched
  }
}

TEST_CASE("profiler ranges are forwarded") {
  ServerProcess server = ServerProcess::Start();
  TestClient c = TestClient::Open(server.endpoint);
  c.UseDevice0();
  CHECK(c.Result<Op::ProfilerStart>({}) == CUDA_SUCCESS);
  CHECK(c.Result<Op::ProfilerStop>({}) == CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpupool::testing
