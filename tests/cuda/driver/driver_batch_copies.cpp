// Batched copies through gpupool: cuMemcpyBatchAsync and cuMemcpy3DBatchAsync (13.0 forms, and the
// 12.8 forms with their failure index through cuGetProcAddress), attributes applied by index range,
// DURING_API_CALL sources read before the call returns, pointer and CUDA array operands, capture into
// a graph, and every documented bad argument refused with CUDA_ERROR_INVALID_VALUE before any copy.
#include <cudaTypedefs.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>

#include "check.h"

namespace {

CUmemcpyAttributes Attr(CUmemcpySrcAccessOrder order, unsigned flags = 0) {
  CUmemcpyAttributes a{};
  a.srcAccessOrder = order;
  a.flags = flags;
  return a;
}

std::vector<unsigned char> Read(CUdeviceptr d, std::size_t n) {
  std::vector<unsigned char> out(n);
  CU_OK(cuMemcpyDtoH(out.data(), d, n));
  return out;
}

CUmemcpy3DOperand Pointer(CUdeviceptr p, std::size_t row_length = 0, std::size_t layer_height = 0) {
  CUmemcpy3DOperand o{};
  o.type = CU_MEMCPY_OPERAND_TYPE_POINTER;
  o.op.ptr.ptr = p;
  o.op.ptr.rowLength = row_length;
  o.op.ptr.layerHeight = layer_height;
  return o;
}

CUmemcpy3DOperand Array(CUarray a, std::size_t x = 0, std::size_t y = 0) {
  CUmemcpy3DOperand o{};
  o.type = CU_MEMCPY_OPERAND_TYPE_ARRAY;
  o.op.array.array = a;
  o.op.array.offset = {x, y, 0};
  return o;
}

CUDA_MEMCPY3D_BATCH_OP Op(CUmemcpy3DOperand src, CUmemcpy3DOperand dst, CUextent3D extent) {
  CUDA_MEMCPY3D_BATCH_OP op{};
  op.src = src;
  op.dst = dst;
  op.extent = extent;
  op.srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
  return op;
}

// The CUDA 12.8 variant of `name` (with its failure index), through cuGetProcAddress.
template <typename Pfn>
Pfn Variant12080(const char* name) {
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult found{};
  CU_OK(cuGetProcAddress(name, &pfn, 12080, 0, &found));
  CHECK_TRUE(pfn != nullptr && found == CU_GET_PROC_ADDRESS_SUCCESS);
  return reinterpret_cast<Pfn>(pfn);
}

CUdeviceptr HostPtr(const void* p) {
  return reinterpret_cast<CUdeviceptr>(p);
}

}  // namespace

int main() {
  drv::Start();
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  constexpr std::size_t kN = 4096;
  CUdeviceptr a = 0, b = 0;
  CU_OK(cuMemAlloc(&a, kN));
  CU_OK(cuMemAlloc(&b, kN));
  CU_OK(cuMemsetD8(a, 0, kN));
  CU_OK(cuMemsetD8(b, 0, kN));
  const auto data = drv::RandomBytes(kN, 7);

  // 1D: four host-to-device pieces; the first two stream-ordered, the last two DURING_API_CALL from
  // a buffer overwritten as soon as the call returns.
  {
    std::vector<unsigned char> scratch(data.begin() + 2048, data.end());
    CUdeviceptr dsts[] = {a, a + 1000, a + 2048, a + 3000};
    CUdeviceptr srcs[] = {HostPtr(data.data()), HostPtr(data.data() + 1000), HostPtr(scratch.data()),
                          HostPtr(scratch.data() + 952)};
    std::size_t sizes[] = {1000, 1048, 952, 1096};
    CUmemcpyAttributes attrs[] = {
        Attr(CU_MEMCPY_SRC_ACCESS_ORDER_STREAM),
        Attr(CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL, CU_MEMCPY_FLAG_PREFER_OVERLAP_WITH_COMPUTE)};
    std::size_t idxs[] = {0, 2};
    CU_OK(cuMemcpyBatchAsync(dsts, srcs, sizes, 4, attrs, idxs, 2, stream));
    std::memset(scratch.data(), 0xEE, scratch.size());
    CU_OK(cuStreamSynchronize(stream));
    CHECK_TRUE(Read(a, kN) == data);
  }
  // 1D device to device and device to host, one attribute for all, on the per-thread stream.
  {
    std::vector<unsigned char> back(kN, 0);
    CUdeviceptr dsts[] = {b, b + 2048, HostPtr(back.data())};
    CUdeviceptr srcs[] = {a, a + 2048, a};
    std::size_t sizes[] = {2048, 2048, kN};
    CUmemcpyAttributes attr = Attr(CU_MEMCPY_SRC_ACCESS_ORDER_ANY);
    std::size_t idx = 0;
    CU_OK(cuMemcpyBatchAsync(dsts, srcs, sizes, 3, &attr, &idx, 1, CU_STREAM_PER_THREAD));
    CU_OK(cuStreamSynchronize(CU_STREAM_PER_THREAD));
    CHECK_TRUE(Read(b, kN) == data);
    CHECK_TRUE(back == data);
  }
  // Bad batches: CUDA_ERROR_INVALID_VALUE and nothing copied, not even the valid first copy.
  {
    CU_OK(cuMemsetD8(b, 0, kN));
    CUdeviceptr dsts[] = {b, b + 100};
    CUdeviceptr srcs[] = {a, a + 100};
    std::size_t sizes[] = {100, 100};
    CUmemcpyAttributes attrs[] = {Attr(CU_MEMCPY_SRC_ACCESS_ORDER_STREAM),
                                  Attr(CU_MEMCPY_SRC_ACCESS_ORDER_STREAM)};
    CUmemcpyAttributes bad_order[] = {Attr(CU_MEMCPY_SRC_ACCESS_ORDER_INVALID)};
    CUmemcpyAttributes bad_flags[] = {Attr(CU_MEMCPY_SRC_ACCESS_ORDER_STREAM, 0x10)};
    std::size_t zero = 0, one = 1;
    std::size_t same[] = {0, 0}, past[] = {0, 2}, three[] = {0, 1, 1};
    const CUresult kBad = CUDA_ERROR_INVALID_VALUE;
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 0, attrs, &zero, 1, stream), kBad);  // count 0
    CU_EXPECT(cuMemcpyBatchAsync(nullptr, srcs, sizes, 2, attrs, &zero, 1, stream), kBad);
    CU_EXPECT(cuMemcpyBatchAsync(dsts, nullptr, sizes, 2, attrs, &zero, 1, stream), kBad);
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, nullptr, 2, attrs, &zero, 1, stream), kBad);
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, nullptr, &zero, 1, stream), kBad);
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, nullptr, 1, stream), kBad);
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, &zero, 0, stream), kBad);  // numAttrs 0
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, three, 3, stream), kBad);  // numAttrs > count
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, &one, 1, stream), kBad);   // first not 0
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, same, 2, stream), kBad);   // not increasing
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, past, 2, stream), kBad);   // past count
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, bad_order, &zero, 1, stream), kBad);  // order INVALID
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, bad_flags, &zero, 1, stream), kBad);  // unknown flag
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, &zero, 1, nullptr), kBad);     // legacy NULL
    CU_EXPECT(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, attrs, &zero, 1, CU_STREAM_LEGACY), kBad);
    CU_OK(cuStreamSynchronize(stream));
    CHECK_TRUE(Read(b, kN) == std::vector<unsigned char>(kN, 0));

    // The 12.8 form names the copy at fault, or SIZE_MAX when the fault is the batch's.
    auto batch_v1 = Variant12080<PFN_cuMemcpyBatchAsync_v12080>("cuMemcpyBatchAsync");
    if (batch_v1 != nullptr) {
      std::size_t fail = 0;
      CUdeviceptr with_null[] = {b, 0};
      CU_EXPECT(batch_v1(with_null, srcs, sizes, 2, attrs, &zero, 1, &fail, stream), kBad);
      CHECK_TRUE(fail == 1);
      CU_EXPECT(batch_v1(dsts, srcs, sizes, 2, attrs, &one, 1, &fail, stream), kBad);
      CHECK_TRUE(fail == SIZE_MAX);
      CU_OK(batch_v1(dsts, srcs, sizes, 2, attrs, &zero, 1, &fail, stream));
      CU_OK(cuStreamSynchronize(stream));
      CHECK_TRUE(Read(b, 200) == std::vector<unsigned char>(data.begin(), data.begin() + 200));
    }
  }

  // 3D: host rows with a longer row length into a packed device box, and back with a layer height.
  {
    constexpr std::size_t kW = 40, kH = 6, kD = 3, kRow = 64, kLayer = 8;
    std::vector<unsigned char> host(kRow * kLayer * kD);
    for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<unsigned char>(i * 7 + 3);
    CU_OK(cuMemsetD8(b, 0, kN));
    CUDA_MEMCPY3D_BATCH_OP ops[2] = {
        Op(Pointer(HostPtr(host.data()), kRow, kLayer), Pointer(b), {kW, kH, kD}),
        Op(Pointer(b), Pointer(a, 0, kH + 1), {kW, kH, kD}),
    };
    CU_OK(cuMemcpy3DBatchAsync(2, ops, 0, stream));
    CU_OK(cuStreamSynchronize(stream));
    const auto packed = Read(b, kW * kH * kD);
    const auto spread = Read(a, kW * (kH + 1) * kD);
    bool same = true;
    for (std::size_t z = 0; z < kD; ++z)
      for (std::size_t y = 0; y < kH; ++y)
        for (std::size_t x = 0; x < kW; ++x) {
          const unsigned char want = host[(z * kLayer + y) * kRow + x];
          same &= packed[(z * kH + y) * kW + x] == want && spread[(z * (kH + 1) + y) * kW + x] == want;
        }
    CHECK_TRUE(same);
  }
  // 3D with CUDA arrays: host floats into an array at an offset, then out of it into device memory.
  CUDA_ARRAY_DESCRIPTOR desc{};
  desc.Width = 16;
  desc.Height = 8;
  desc.Format = CU_AD_FORMAT_FLOAT;
  desc.NumChannels = 1;
  CUarray array = nullptr, bytes_array = nullptr;
  CU_OK(cuArrayCreate(&array, &desc));
  desc.Format = CU_AD_FORMAT_UNSIGNED_INT8;
  CU_OK(cuArrayCreate(&bytes_array, &desc));
  {
    std::vector<float> floats(8 * 4);
    for (std::size_t i = 0; i < floats.size(); ++i) floats[i] = 0.5f * static_cast<float>(i);
    CU_OK(cuMemsetD8(b, 0, kN));
    CUDA_MEMCPY3D_BATCH_OP ops[2] = {
        Op(Pointer(HostPtr(floats.data())), Array(array, 4, 2), {8, 4, 1}),
        Op(Array(array, 4, 2), Pointer(b), {8, 4, 1}),
    };
    ops[0].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL;
    CU_OK(cuMemcpy3DBatchAsync(2, ops, 0, stream));
    CU_OK(cuStreamSynchronize(stream));
    const auto out = Read(b, floats.size() * sizeof(float));
    CHECK_TRUE(std::memcmp(out.data(), floats.data(), out.size()) == 0);

    // Bad operations: nothing is copied.
    CU_OK(cuMemsetD8(b, 0, kN));
    CUDA_MEMCPY3D_BATCH_OP good = Op(Pointer(a), Pointer(b), {16, 1, 1});
    CUDA_MEMCPY3D_BATCH_OP zero_extent = Op(Pointer(a), Pointer(b), {16, 0, 1});
    CUDA_MEMCPY3D_BATCH_OP short_row = Op(Pointer(a, 8), Pointer(b), {16, 2, 1});
    CUDA_MEMCPY3D_BATCH_OP short_layer = Op(Pointer(a), Pointer(b, 0, 1), {16, 2, 2});
    CUDA_MEMCPY3D_BATCH_OP bad_order = good;
    bad_order.srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_INVALID;
    CUDA_MEMCPY3D_BATCH_OP bad_type = good;
    bad_type.dst.type = static_cast<CUmemcpy3DOperandType>(7);
    CUDA_MEMCPY3D_BATCH_OP mixed = Op(Array(array), Array(bytes_array), {4, 1, 1});  // 4 B vs 1 B elements
    for (const CUDA_MEMCPY3D_BATCH_OP& bad :
         {zero_extent, short_row, short_layer, bad_order, bad_type, mixed}) {
      CUDA_MEMCPY3D_BATCH_OP pair[2] = {good, bad};
      CU_EXPECT(cuMemcpy3DBatchAsync(2, pair, 0, stream), CUDA_ERROR_INVALID_VALUE);
    }
    CU_EXPECT(cuMemcpy3DBatchAsync(0, &good, 0, stream), CUDA_ERROR_INVALID_VALUE);
    CU_EXPECT(cuMemcpy3DBatchAsync(1, nullptr, 0, stream), CUDA_ERROR_INVALID_VALUE);
    CU_EXPECT(cuMemcpy3DBatchAsync(1, &good, 1, stream), CUDA_ERROR_INVALID_VALUE);  // flags must be 0
    CU_EXPECT(cuMemcpy3DBatchAsync(1, &good, 0, nullptr), CUDA_ERROR_INVALID_VALUE);
    CU_OK(cuStreamSynchronize(stream));
    CHECK_TRUE(Read(b, kN) == std::vector<unsigned char>(kN, 0));

    auto batch3d_v1 = Variant12080<PFN_cuMemcpy3DBatchAsync_v12080>("cuMemcpy3DBatchAsync");
    if (batch3d_v1 != nullptr) {
      std::size_t fail = 0;
      CUDA_MEMCPY3D_BATCH_OP pair[2] = {good, short_row};
      CU_EXPECT(batch3d_v1(2, pair, &fail, 0, stream), CUDA_ERROR_INVALID_VALUE);
      CHECK_TRUE(fail == 1);
      CU_EXPECT(batch3d_v1(2, pair, &fail, 0, CU_STREAM_LEGACY), CUDA_ERROR_INVALID_VALUE);
      CHECK_TRUE(fail == SIZE_MAX);
    }
  }

  // Captured: each copy of the batch is a memcpy node; the graph's launch makes the copies.
  {
    CU_OK(cuMemsetD8(b, 0, kN));
    CUdeviceptr dsts[] = {b, b + 1024, b + 3072};
    CUdeviceptr srcs[] = {a + 3072, a, a + 1024};
    std::size_t sizes[] = {1024, 1024, 1024};
    CUmemcpyAttributes attr = Attr(CU_MEMCPY_SRC_ACCESS_ORDER_STREAM);
    std::size_t idx = 0;
    CU_OK(cuMemcpyHtoD(a, data.data(), kN));
    CUgraph graph = nullptr;
    CU_OK(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CU_OK(cuMemcpyBatchAsync(dsts, srcs, sizes, 3, &attr, &idx, 1, stream));
    CU_OK(cuStreamEndCapture(stream, &graph));
    std::size_t nodes = 0;
    CU_OK(cuGraphGetNodes(graph, nullptr, &nodes));
    CHECK_TRUE(nodes == 3);
    CHECK_TRUE(Read(b, kN) == std::vector<unsigned char>(kN, 0));  // captured, not run
    CUgraphExec exec = nullptr;
    CU_OK(cuGraphInstantiate(&exec, graph, 0));
    CU_OK(cuGraphLaunch(exec, stream));
    CU_OK(cuStreamSynchronize(stream));
    const auto got = Read(b, kN);
    CHECK_TRUE(std::memcmp(got.data(), data.data() + 3072, 1024) == 0);
    CHECK_TRUE(std::memcmp(got.data() + 1024, data.data(), 1024) == 0);
    CHECK_TRUE(std::memcmp(got.data() + 3072, data.data() + 1024, 1024) == 0);
    CU_OK(cuGraphExecDestroy(exec));
    CU_OK(cuGraphDestroy(graph));
  }

  // DURING_API_CALL from pinned memory, on a stream held behind a host function that runs only once
  // the call has returned and the source was overwritten: the copies still carry the bytes of the call.
  {
    void* pinned = nullptr;
    CU_OK(cuMemAllocHost(&pinned, kN));
    std::memcpy(pinned, data.data(), kN);
    CU_OK(cuMemsetD8(b, 0, kN));
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    auto hold = [](void* f) {
      // Generous: only a broken build waits this long (the main thread releases it right away).
      (void)static_cast<std::shared_future<void>*>(f)->wait_for(std::chrono::seconds(60));
    };
    CU_OK(cuLaunchHostFunc(stream, hold, &released));
    CUdeviceptr dsts[] = {b};
    CUdeviceptr srcs[] = {HostPtr(pinned)};
    std::size_t sizes[] = {1024};
    CUmemcpyAttributes attr = Attr(CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL);
    std::size_t idx = 0;
    CU_OK(cuMemcpyBatchAsync(dsts, srcs, sizes, 1, &attr, &idx, 1, stream));
    CUDA_MEMCPY3D_BATCH_OP op =
        Op(Pointer(HostPtr(static_cast<char*>(pinned) + 1024), 512), Pointer(b + 1024), {512, 2, 1});
    op.srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL;
    CU_OK(cuMemcpy3DBatchAsync(1, &op, 0, stream));
    std::memset(pinned, 0xEE, kN);
    release.set_value();
    CU_OK(cuStreamSynchronize(stream));
    CHECK_TRUE(Read(b, 2048) == std::vector<unsigned char>(data.begin(), data.begin() + 2048));

    // Into a capture: the graph copies the bytes of the call at every launch.
    std::memcpy(pinned, data.data(), kN);
    CU_OK(cuMemsetD8(b, 0, kN));
    CUgraph graph = nullptr;
    CU_OK(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CU_OK(cuMemcpyBatchAsync(dsts, srcs, sizes, 1, &attr, &idx, 1, stream));
    CU_OK(cuMemcpy3DBatchAsync(1, &op, 0, stream));
    CU_OK(cuStreamEndCapture(stream, &graph));
    std::memset(pinned, 0xEE, kN);
    CUgraphExec exec = nullptr;
    CU_OK(cuGraphInstantiate(&exec, graph, 0));
    CU_OK(cuGraphLaunch(exec, stream));
    CU_OK(cuStreamSynchronize(stream));
    CHECK_TRUE(Read(b, 2048) == std::vector<unsigned char>(data.begin(), data.begin() + 2048));
    CU_OK(cuGraphExecDestroy(exec));
    CU_OK(cuGraphDestroy(graph));
    CU_OK(cuMemFreeHost(pinned));
  }

  CU_OK(cuArrayDestroy(array));
  CU_OK(cuArrayDestroy(bytes_array));
  CU_OK(cuMemFree(a));
  CU_OK(cuMemFree(b));
  CU_OK(cuStreamDestroy(stream));
  return drv::Verdict("driver_batch_copies");
}
