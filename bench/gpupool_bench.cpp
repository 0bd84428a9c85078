// gpupool-bench [--server HOST:PORT|unix:PATH] --json (ARCHITECTURE §6, issue 2 item 8): sync round
// trip, virtual memory segment growth, asynchronous launch rate, copy bandwidth and managed memory
// through gpupool's libcuda.so.1, each next to a
// raw-socket baseline measured in the same run over the same kind of transport, its peer a separate
// process like the server's worker (--raw-thread: a thread of the bench instead; see raw_baseline.h).
// Without --server it starts its own local gpupool-server (as `gpupool run` does) on a Unix socket.
// Copy lines also carry copy_path ("ring" on a Unix socket, where the client and the worker share a
// copy ring, unless GPUPOOL_COPY_RING=off; else "socket"; "mapped" for pinned memory the worker maps,
// unless GPUPOOL_MAPPED_MEMORY=off) and baseline_sized / ratio_sized: the raw stream
// through buffers of the copy's size (see Run); `baseline` and `ratio` keep the definition.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/client_driver.h"
#include "bench/raw_baseline.h"
#include "cli/local_server.h"
#include "common/endpoint.h"

namespace gpupool::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kChunk = std::size_t{1} << 20;

// An empty kernel, as PTX so the bench needs no nvcc (the server's driver JIT-compiles it).
constexpr char kPtx[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry bench_kernel(.param .u64 p, .param .u32 n)\n{\n ret;\n}\n";

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// `sized_baseline` (copies only, else negative): the raw stream through buffers of the copy's size
// (RawPeer::UploadSized), printed beside the baseline, which it does not replace.
// Copies only: whether the client's bytes went through the copy ring (protocol/copy_ring.h), which a
// session gets over a plain Unix socket unless GPUPOOL_COPY_RING=off, or through the socket.
const char* g_copy_path = "socket";

// `path`: the copy's own path where it is not g_copy_path ("mapped": pinned memory the worker maps).
void Emit(const char* metric, std::size_t size, double value, double baseline, double sized_baseline = -1,
          const char* path = nullptr) {
  std::printf("{\"metric\":\"%s\",\"size\":%zu,\"value\":%.3f,\"baseline\":%.3f,\"ratio\":%.3f", metric, size,
              value, baseline, baseline > 0 ? value / baseline : 0.0);
  if (sized_baseline >= 0) {
    std::printf(",\"copy_path\":\"%s\"", path != nullptr ? path : g_copy_path);
    std::printf(",\"baseline_sized\":%.3f,\"ratio_sized\":%.3f", sized_baseline,
                sized_baseline > 0 ? value / sized_baseline : 0.0);
  }
  std::printf("}\n");
  std::fflush(stdout);
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// 2D copies of `size` bytes in rows of 8 KiB, 8.5 KiB apart on both sides (as from cuMemAllocPitch and
// an image with padded rows), against the 1D copies of the same size measured just before: the
// baseline is gpupool's own 1D bandwidth, so the ratio is what a 2D copy costs over a 1D one. Last,
// asynchronous into pinned memory then a stream synchronisation (deferred, as the 1D copies of
// d2h_async_bandwidth are, its baseline).
void Pitched(const ClientDriver& cu, CUdeviceptr device, char* host, char* pinned, std::size_t size,
             std::size_t total, double h2d, double d2h, double d2h_async) {
  constexpr std::size_t kWidth = 8u << 10, kPitch = kWidth + 512;
  const std::size_t rows = size / kWidth, reps = total / size;
  if (rows * kPitch > (256u << 20)) return;  // past the end of the bench's buffers
  CUDA_MEMCPY2D up{};
  up.srcMemoryType = CU_MEMORYTYPE_HOST;
  up.srcHost = host;
  up.srcPitch = kPitch;
  up.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  up.dstDevice = device;
  up.dstPitch = kPitch;
  up.WidthInBytes = kWidth;
  up.Height = rows;
  CUDA_MEMCPY2D down = up;
  std::swap(down.srcMemoryType, down.dstMemoryType);
  down.srcDevice = device;
  down.dstHost = host;
  auto t = Clock::now();
  for (std::size_t i = 0; i < reps; ++i) cu.Memcpy2D(&up);
  Emit("h2d_2d_bandwidth", size, static_cast<double>(total) / Seconds(t) / 1e9, h2d);
  t = Clock::now();
  for (std::size_t i = 0; i < reps; ++i) cu.Memcpy2D(&down);
  Emit("d2h_2d_bandwidth", size, static_cast<double>(total) / Seconds(t) / 1e9, d2h);
  down.dstHost = pinned;
  t = Clock::now();
  for (std::size_t i = 0; i < reps; ++i) {
    cu.Memcpy2DAsync(&down, nullptr);
    cu.StreamSynchronize(nullptr);
  }
  Emit("d2h_2d_async_bandwidth", size, static_cast<double>(total) / Seconds(t) / 1e9, d2h_async);
}

// Virtual memory as PyTorch's expandable segments grow and shrink (remoting/client/README.md): one
// reservation, then per segment of the granularity cuMemCreate + cuMemMap + cuMemSetAccess, and back
// cuMemUnmap + cuMemRelease. Each call is one round trip, so the floor is that many raw ping-pongs
// (`rtt_us`, the raw p50 measured above): the baselines are 3 and 2 of them.
void SegmentGrowth(const ClientDriver& cu, double rtt_us) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;  // as PyTorch asks
  std::size_t granularity = 0;
  constexpr int kSegments = 256;
  CUdeviceptr base = 0;
  if (cu.MemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) != CUDA_SUCCESS ||
      cu.MemAddressReserve(&base, kSegments * granularity, 0, 0, 0) != CUDA_SUCCESS) {
    std::fprintf(stderr, "gpupool-bench: no virtual memory management: segment lines skipped\n");
    return;
  }
  CUmemAccessDesc access{};
  access.location = prop.location;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  std::vector<CUmemGenericAllocationHandle> handles(kSegments);
  std::vector<double> grow, shrink;
  for (int i = 0; i < kSegments; ++i) {
    const CUdeviceptr at = base + i * granularity;
    const auto start = Clock::now();
    if (cu.MemCreate(&handles[i], granularity, &prop, 0) != CUDA_SUCCESS ||
        cu.MemMap(at, granularity, 0, handles[i], 0) != CUDA_SUCCESS ||
        cu.MemSetAccess(at, granularity, &access, 1) != CUDA_SUCCESS) {
      std::fprintf(stderr, "gpupool-bench: growing a segment failed\n");
      return;
    }
    grow.push_back(Seconds(start) * 1e6);
  }
  for (int i = kSegments - 1; i >= 0; --i) {
    const auto start = Clock::now();
    cu.MemUnmap(base + i * granularity, granularity);
    cu.MemRelease(handles[i]);
    shrink.push_back(Seconds(start) * 1e6);
  }
  cu.MemAddressFree(base, kSegments * granularity);
  Emit("vmm_grow_segment_p50_us", granularity, Percentile(grow, 0.5), 3 * rtt_us);
  Emit("vmm_shrink_segment_p50_us", granularity, Percentile(shrink, 0.5), 2 * rtt_us);
}

// Managed memory (remoting/client/README.md, "Managed memory"), as a program uses it after a kernel:
// the host reads every page of a buffer the device wrote, each first touch of a block a fault that
// fetches it, against gpupool's own explicit device-to-host copy of the same size measured above; the
// host writes the whole buffer and launches a kernel, which first hands the written blocks to the
// device, against the explicit host-to-device copy; and one first touch of a block, against an explicit
// copy of one block (64 KiB) on its own.
void Managed(const ClientDriver& cu, CUfunction kernel,
             const std::map<std::size_t, std::pair<double, double>>& copies) {
  constexpr std::size_t kBlock = 64u << 10;
  std::vector<char> block(kBlock);
  CUdeviceptr plain = 0;
  if (cu.MemAlloc(&plain, kBlock) != CUDA_SUCCESS) return;
  for (const auto& [size, bandwidth] : copies) {
    if (size < kBlock) continue;
    CUdeviceptr managed = 0;
    if (cu.MemAllocManaged(&managed, size, CU_MEM_ATTACH_GLOBAL) != CUDA_SUCCESS) {
      std::fprintf(stderr, "gpupool-bench: no managed memory: its lines skipped\n");
      break;
    }
    volatile char* host = reinterpret_cast<volatile char*>(managed);
    unsigned n = 1;
    void* params[] = {&managed, &n};
    const int reps = std::max(1, static_cast<int>((std::size_t{256} << 20) / size));
    double read_s = 0, write_s = 0;
    // One untimed round first: the host's first touch of a new allocation's pages costs the kernel's
    // page allocation (once per allocation, also natively), not the hand-over.
    for (int r = -1; r < reps; ++r) {
      cu.MemsetD8(managed, static_cast<unsigned char>(r), size);
      cu.CtxSynchronize();
      auto t = Clock::now();
      for (std::size_t i = 0; i < size; i += 4096) (void)host[i];
      if (r >= 0) read_s += Seconds(t);
      std::memset(const_cast<char*>(host), r, size);
      t = Clock::now();
      cu.LaunchKernel(kernel, 1, 1, 1, 32, 1, 1, 0, nullptr, params, nullptr);
      cu.CtxSynchronize();
      if (r >= 0) write_s += Seconds(t);
    }
    const double moved = static_cast<double>(size) * reps;
    Emit("managed_host_read_bandwidth", size, moved / read_s / 1e9, bandwidth.second);
    Emit("managed_write_then_launch_bandwidth", size, moved / write_s / 1e9, bandwidth.first);
    if (size == (std::size_t{1} << 20)) {
      std::vector<double> touch, copy;
      for (int r = 0; r < 500; ++r) {
        cu.MemsetD8(managed, 0, kBlock);
        cu.CtxSynchronize();
        auto t = Clock::now();
        (void)host[0];
        touch.push_back(Seconds(t) * 1e6);
        t = Clock::now();
        cu.MemcpyDtoH(block.data(), plain, kBlock);
        copy.push_back(Seconds(t) * 1e6);
      }
      Emit("managed_first_touch_p50_us", kBlock, Percentile(touch, 0.5), Percentile(copy, 0.5));
    }
    cu.MemFree(managed);
  }
  cu.MemFree(plain);
}

// Kernels launched per second through CUDA graphs of 1, 10 and 100 kernel nodes (as inference servers
// replay a captured step), against the plain asynchronous launch rate measured just before.
void GraphLaunches(const ClientDriver& cu, CUfunction kernel, void** params, double launch_rate) {
  CUstream stream = nullptr;
  if (cu.StreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) return;
  for (int nodes : {1, 10, 100}) {
    CUgraph graph = nullptr;
    CUgraphExec exec = nullptr;
    bool made = cu.StreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL) == CUDA_SUCCESS;
    for (int i = 0; made && i < nodes; ++i)
      made = cu.LaunchKernel(kernel, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr) == CUDA_SUCCESS;
    made = cu.StreamEndCapture(stream, &graph) == CUDA_SUCCESS && made &&
           cu.GraphInstantiateWithFlags(&exec, graph, 0) == CUDA_SUCCESS;
    if (!made) {
      std::fprintf(stderr, "gpupool-bench: cannot capture a graph of %d kernels\n", nodes);
      break;
    }
    const int graphs = 200000 / nodes;
    const auto start = Clock::now();
    for (int i = 0; i < graphs; ++i) cu.GraphLaunch(exec, stream);
    cu.StreamSynchronize(stream);
    Emit("graph_kernel_rate", static_cast<std::size_t>(nodes), graphs * nodes / Seconds(start), launch_rate);
    cu.GraphExecDestroy(exec);
    cu.GraphDestroy(graph);
  }
  cu.StreamDestroy(stream);
}

int Run(const ClientDriver& cu, RawPeer& raw) {
  CUdevice device = 0;
  CUcontext context = nullptr;
  if (cu.Init(0) != CUDA_SUCCESS || cu.DeviceGet(&device, 0) != CUDA_SUCCESS ||
      cu.PrimaryCtxRetain(&context, device) != CUDA_SUCCESS || cu.CtxSetCurrent(context) != CUDA_SUCCESS) {
    std::fprintf(stderr, "gpupool-bench: cannot initialise the client (is the server reachable?)\n");
    return 1;
  }
  // Sync round trip: cuCtxSynchronize vs a 20-byte ping-pong (a frame header and a status).
  std::vector<double> rtt;
  for (int i = 0; i < 3000; ++i) {
    const auto start = Clock::now();
    cu.CtxSynchronize();
    rtt.push_back(Seconds(start) * 1e6);
  }
  const auto raw_rtt = raw.PingPong(3000, 20);
  Emit("sync_rtt_p50", 0, Percentile(rtt, 0.5), Percentile(raw_rtt, 0.5));
  Emit("sync_rtt_p99", 0, Percentile(rtt, 0.99), Percentile(raw_rtt, 0.99));
  SegmentGrowth(cu, Percentile(raw_rtt, 0.5));

  // Asynchronous launches vs one-way messages of the same frame size (16 + 44 + 12 bytes).
  CUmodule module = nullptr;
  CUfunction kernel = nullptr;
  CUdeviceptr buffer = 0;
  if (cu.ModuleLoadData(&module, kPtx) != CUDA_SUCCESS ||
      cu.ModuleGetFunction(&kernel, module, "bench_kernel") != CUDA_SUCCESS ||
      cu.MemAlloc(&buffer, 256u << 20) != CUDA_SUCCESS) {
    std::fprintf(stderr, "gpupool-bench: cannot load the bench kernel or allocate memory\n");
    return 1;
  }
  const int launches = 200000;
  unsigned n = 1;
  void* params[] = {&buffer, &n};
  const auto start = Clock::now();
  for (int i = 0; i < launches; ++i) cu.LaunchKernel(kernel, 1, 1, 1, 32, 1, 1, 0, nullptr, params, nullptr);
  const CUresult synced = cu.CtxSynchronize();
  const double rate = launches / Seconds(start);
  if (synced != CUDA_SUCCESS) std::fprintf(stderr, "gpupool-bench: launches failed (%d)\n", synced);
  Emit("async_launch_rate", 0, rate, raw.MessageRate(launches, 72));
  GraphLaunches(cu, kernel, params, rate);

  // Copy bandwidth: at least 256 MiB moved per size (4 KiB: 8 MiB), vs a raw stream of the same bytes
  // in writes of the copy's size up to the protocol's 1 MiB chunk (the client's own frame size).
  // `baseline` streams one cache-resident chunk buffer over and over; `baseline_sized` streams
  // through buffers of the copy's size on both ends, as the copy itself must (host buffer and
  // device memory): from 64 MiB on, that is RAM traffic the first baseline never pays.
  std::vector<char> host(256u << 20, 1);
  // One untimed pass first: the emulated device backs memory lazily, and a first touch measures the
  // host's page faults, not the transport.
  cu.MemcpyHtoD(buffer, host.data(), host.size());
  void* pinned = nullptr;
  if (cu.MemAllocHost(&pinned, host.size()) != CUDA_SUCCESS) {
    std::fprintf(stderr, "gpupool-bench: cuMemAllocHost failed\n");
    return 1;
  }
  std::memset(pinned, 1, host.size());  // its pages too: fresh from the client, untouched so far
  // With the server on this host, pinned memory is mapped for the GPU (the mapped arena) and copies to
  // and from it move no bytes on the socket or ring: the worker copies between it and the device.
  CUdeviceptr mapped = 0;
  const bool pinned_mapped = cu.MemHostGetDevicePointer(&mapped, pinned, 0) == CUDA_SUCCESS;
  const char* pinned_path = pinned_mapped ? "mapped" : g_copy_path;
  std::map<std::size_t, std::pair<double, double>> copies;  // size -> h2d, d2h bandwidth
  for (std::size_t size :
       {std::size_t{4} << 10, std::size_t{1} << 20, std::size_t{64} << 20, std::size_t{256} << 20}) {
    const std::size_t total = size == (4u << 10) ? (8u << 20) : std::max(size, std::size_t{256} << 20);
    const std::size_t reps = total / size;
    auto t = Clock::now();
    for (std::size_t i = 0; i < reps; ++i) cu.MemcpyHtoD(buffer, host.data(), size);
    const double h2d = static_cast<double>(total) / Seconds(t) / 1e9;
    const double up = raw.Upload(total, std::min(size, kChunk));
    Emit("h2d_bandwidth", size, h2d, up, raw.UploadSized(total, std::min(size, kChunk), size));
    t = Clock::now();
    for (std::size_t i = 0; i < reps; ++i) cu.MemcpyDtoH(host.data(), buffer, size);
    const double d2h = static_cast<double>(total) / Seconds(t) / 1e9;
    const double down = raw.Download(total, std::min(size, kChunk));
    const double down_sized = raw.DownloadSized(total, std::min(size, kChunk), size);
    Emit("d2h_bandwidth", size, d2h, down, down_sized);
    copies[size] = {h2d, d2h};
    // The same from and into pinned memory (cuMemAllocHost): what PyTorch's pin_memory buffers take.
    // (Each time is taken before the baselines run: Emit's arguments are evaluated in no set order.)
    t = Clock::now();
    for (std::size_t i = 0; i < reps; ++i) cu.MemcpyHtoD(buffer, pinned, size);
    const double h2d_pinned = static_cast<double>(total) / Seconds(t) / 1e9;
    Emit("h2d_pinned_bandwidth", size, h2d_pinned, up, raw.UploadSized(total, std::min(size, kChunk), size),
         pinned_path);
    t = Clock::now();
    for (std::size_t i = 0; i < reps; ++i) cu.MemcpyDtoH(pinned, buffer, size);
    const double d2h_pinned = static_cast<double>(total) / Seconds(t) / 1e9;
    Emit("d2h_pinned_bandwidth", size, d2h_pinned, down, down_sized, pinned_path);
    // Asynchronous into pinned memory, then a stream synchronisation: deferred copies
    // (docs/protocol.md), unless GPUPOOL_DEFERRED_COPIES=off, or with mapped pinned memory the worker's
    // copy straight into it. One untimed copy first: a session's first deferred copies fault in the
    // worker's staging pages, once per session.
    cu.MemcpyDtoHAsync(pinned, buffer, size, nullptr);
    cu.StreamSynchronize(nullptr);
    t = Clock::now();
    for (std::size_t i = 0; i < reps; ++i) {
      cu.MemcpyDtoHAsync(pinned, buffer, size, nullptr);
      cu.StreamSynchronize(nullptr);
    }
    const double d2h_async = static_cast<double>(total) / Seconds(t) / 1e9;
    Emit("d2h_async_bandwidth", size, d2h_async, down, down_sized, pinned_path);
    if (size >= kChunk)
      Pitched(cu, buffer, host.data(), static_cast<char*>(pinned), size, total, h2d, d2h, d2h_async);
  }
  cu.MemFreeHost(pinned);
  cu.MemFree(buffer);
  Managed(cu, kernel, copies);
  return 0;
}

}  // namespace
}  // namespace gpupool::bench

int main(int argc, char** argv) {
  using namespace gpupool;
  std::string server;
  bool raw_thread = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--server" && i + 1 < argc) {
      server = argv[++i];
    } else if (arg == "--raw-thread") {
      raw_thread = true;
    } else if (arg != "--json") {
      std::fprintf(stderr, "usage: gpupool-bench [--server HOST:PORT|unix:PATH] [--raw-thread] --json\n");
      return 2;
    }
  }
  if (!server.empty() && !ParseEndpoint(server).ok()) {
    std::fprintf(stderr, "gpupool-bench: bad --server address '%s'\n", server.c_str());
    return 2;
  }
  char dir[] = "/tmp/gpupool-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  std::unique_ptr<cli::LocalServer> local;
  if (server.empty()) {
    cli::LocalServerOptions options;
    options.binary = cli::ExecutableDir() + "/gpupool-server";
    options.device = cli::HasNvidiaGpu() ? "cuda" : "emulated";
    std::fprintf(stderr, "gpupool-bench: local gpupool-server, %s device\n", options.device.c_str());
    auto started = cli::LocalServer::Start(options);
    if (!started.ok()) {
      std::fprintf(stderr, "gpupool-bench: %s\n", started.status().ToString().c_str());
      return 1;
    }
    local = std::move(*started);
    server = local->address();
  }
  setenv("GPUPOOL_SERVER", server.c_str(), 1);
  const bool tcp = server.rfind("unix:", 0) != 0;
  const char* ring = std::getenv("GPUPOOL_COPY_RING");
  const bool ring_off = ring != nullptr && (std::strcmp(ring, "off") == 0 || std::strcmp(ring, "0") == 0);
  if (!tcp && !ring_off) bench::g_copy_path = "ring";
  auto raw = bench::RawPeer::Start(dir, tcp, !raw_thread);
  auto driver = bench::LoadClientDriver(cli::ExecutableDir() + "/../lib/libcuda.so.1");
  if (!raw.ok() || !driver.ok()) {
    std::fprintf(stderr, "gpupool-bench: %s\n",
                 (raw.ok() ? driver.status() : raw.status()).ToString().c_str());
    return 1;
  }
  const int code = bench::Run(*driver, **raw);
  raw->reset();
  std::remove((std::string(dir) + "/raw.sock").c_str());
  rmdir(dir);
  return code;
}
