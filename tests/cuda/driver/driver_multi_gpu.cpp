// Several GPUs in one process (a pod bound to two GPUs of a server, or a server's whole GPU set):
// each device its own context and memory, copies between them (unified addressing and cuMemcpyPeer),
// a stream of one device waiting for an event of the other, peer access with the driver's rules, and
// a pool of one device opened to the other.
// A kernel on device 0 then writes device 1's memory through peer access; on a GPU it ran (the line
// "peer kernel wrote" is compared native and through gpupool), the emulated device records it only.
// With one device there is nothing to check.
//
//   driver_multi_gpu KERNELS.fatbin
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "check.h"

namespace {

struct Gpu {
  CUdevice device = 0;
  CUcontext context = nullptr;
};

// Device memory on `gpu`, filled with `bytes`.
CUdeviceptr Filled(const Gpu& gpu, const std::vector<unsigned char>& bytes) {
  CUdeviceptr ptr = 0;
  CU_OK(cuCtxSetCurrent(gpu.context));
  CU_OK(cuMemAlloc(&ptr, bytes.size()));
  CU_OK(cuMemcpyHtoD(ptr, bytes.data(), bytes.size()));
  return ptr;
}

void Devices(const Gpu& a, const Gpu& b) {
  CUuuid ua{}, ub{};
  CU_OK(cuDeviceGetUuid(&ua, a.device));
  CU_OK(cuDeviceGetUuid(&ub, b.device));
  CHECK_TRUE(std::memcmp(ua.bytes, ub.bytes, sizeof ua.bytes) != 0);
  // Each context is its own device's.
  CUdevice seen = -1;
  CU_OK(cuCtxSetCurrent(b.context));
  CU_OK(cuCtxGetDevice(&seen));
  CHECK_TRUE(seen == b.device);
  std::size_t free_b = 0, total_b = 0, free_a = 0, total_a = 0;
  CU_OK(cuMemGetInfo(&free_b, &total_b));
  CU_OK(cuCtxSetCurrent(a.context));
  CU_OK(cuMemGetInfo(&free_a, &total_a));
  CHECK_TRUE(free_a <= total_a && free_b <= total_b && total_a > 0 && total_b > 0);
}

// Bytes move between the devices by unified addressing and by cuMemcpyPeer, sync and async.
void Copies(const Gpu& a, const Gpu& b) {
  const std::size_t n = (1u << 20) + 3;
  const std::vector<unsigned char> data = drv::RandomBytes(n, 7);
  const CUdeviceptr on_a = Filled(a, data);
  const CUdeviceptr on_b = Filled(b, std::vector<unsigned char>(n, 0));
  CU_OK(cuCtxSetCurrent(a.context));
  CU_OK(cuMemcpyDtoD(on_b, on_a, n));  // between devices: the addresses say which
  std::vector<unsigned char> back(n, 0);
  CU_OK(cuMemcpyDtoH(back.data(), on_b, n));
  CHECK_TRUE(back == data);

  CUdeviceptr again = 0;
  CU_OK(cuMemAlloc(&again, n));
  CU_OK(cuMemcpyPeer(again, a.context, on_b, b.context, n));
  std::fill(back.begin(), back.end(), 0);
  CU_OK(cuMemcpyDtoH(back.data(), again, n));
  CHECK_TRUE(back == data);

  // Device 1's stream waits for an event of device 0's stream before its copy.
  CUstream sa = nullptr, sb = nullptr;
  CUevent done_on_a = nullptr;
  CU_OK(cuStreamCreate(&sa, CU_STREAM_NON_BLOCKING));
  CU_OK(cuEventCreate(&done_on_a, CU_EVENT_DISABLE_TIMING));
  CU_OK(cuMemsetD8Async(again, 0x5a, n, sa));
  CU_OK(cuEventRecord(done_on_a, sa));
  CU_OK(cuCtxSetCurrent(b.context));
  CU_OK(cuStreamCreate(&sb, CU_STREAM_NON_BLOCKING));
  CU_OK(cuStreamWaitEvent(sb, done_on_a, 0));
  CU_OK(cuMemcpyPeerAsync(on_b, b.context, again, a.context, n, sb));
  CU_OK(cuStreamSynchronize(sb));
  CU_OK(cuMemcpyDtoH(back.data(), on_b, n));
  CHECK_TRUE(back == std::vector<unsigned char>(n, 0x5a));
  CU_OK(cuStreamDestroy(sb));
  CU_OK(cuCtxSetCurrent(a.context));
  CU_OK(cuStreamDestroy(sa));
  CU_OK(cuEventDestroy(done_on_a));
  CU_OK(cuMemFree(on_a));
  CU_OK(cuMemFree(again));
  CU_OK(cuCtxSetCurrent(b.context));
  CU_OK(cuMemFree(on_b));
  CU_OK(cuCtxSetCurrent(a.context));
}

// Peer access as the driver rules it; then a kernel of device 0 writes device 1's memory.
void Peers(const Gpu& a, const Gpu& b, const char* fatbin) {
  int can = -1, self = -1;
  CU_OK(cuDeviceCanAccessPeer(&can, a.device, b.device));
  CU_OK(cuDeviceCanAccessPeer(&self, a.device, a.device));
  CHECK_TRUE(self == 0);
  std::printf("device 0 can access device 1: %d\n", can);
  CU_OK(cuCtxSetCurrent(a.context));
  CU_EXPECT(cuCtxEnablePeerAccess(a.context, 0), CUDA_ERROR_INVALID_CONTEXT);
  CU_EXPECT(cuCtxDisablePeerAccess(b.context), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
  if (can == 0) {
    CU_EXPECT(cuCtxEnablePeerAccess(b.context, 0), CUDA_ERROR_PEER_ACCESS_UNSUPPORTED);
    return;
  }
  CU_EXPECT(cuCtxEnablePeerAccess(b.context, 1), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuCtxEnablePeerAccess(b.context, 0));
  CU_EXPECT(cuCtxEnablePeerAccess(b.context, 0), CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED);
  CU_OK(cuCtxDisablePeerAccess(b.context));
  CU_EXPECT(cuCtxDisablePeerAccess(b.context), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
  CU_OK(cuCtxEnablePeerAccess(b.context, 0));

  CUmodule module = nullptr;
  CUfunction fill = nullptr;
  if (!CU_OK(cuModuleLoad(&module, fatbin)) || !CU_OK(cuModuleGetFunction(&fill, module, "k_ptr_size")))
    return;
  constexpr unsigned kFloats = 32;
  const CUdeviceptr on_b = Filled(b, std::vector<unsigned char>(kFloats * sizeof(float), 0));
  CU_OK(cuCtxSetCurrent(a.context));
  drv::LaunchFill(fill, reinterpret_cast<float*>(on_b), kFloats);
  CU_OK(cuCtxSynchronize());
  std::vector<float> back(kFloats, -1.0f);
  CU_OK(cuMemcpyDtoH(back.data(), on_b, kFloats * sizeof(float)));
  std::printf("peer kernel wrote %.1f .. %.1f\n", back.front(), back.back());
  CU_OK(cuModuleUnload(module));
  CU_OK(cuCtxDisablePeerAccess(b.context));
  CU_OK(cuCtxSetCurrent(b.context));
  CU_OK(cuMemFree(on_b));
  CU_OK(cuCtxSetCurrent(a.context));
}

// Device 1 granted access to device 0's default pool, as PyTorch's cudaMallocAsync backend does before
// it copies between devices; an allocation of the pool then read from device 1's context.
void PoolAccess(const Gpu& a, const Gpu& b) {
  CUmemoryPool pool = nullptr;
  if (!CU_OK(cuDeviceGetDefaultMemPool(&pool, a.device))) return;
  CUmemLocation from_b = {CU_MEM_LOCATION_TYPE_DEVICE, b.device};
  CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  CU_OK(cuMemPoolGetAccess(&flags, pool, &from_b));
  CHECK_TRUE(flags == CU_MEM_ACCESS_FLAGS_PROT_NONE);
  CUmemAccessDesc grant = {from_b, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
  CU_OK(cuMemPoolSetAccess(pool, &grant, 1));
  CU_OK(cuMemPoolGetAccess(&flags, pool, &from_b));
  CHECK_TRUE(flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);

  const std::size_t n = 4096;
  const std::vector<unsigned char> data = drv::RandomBytes(n, 11);
  CU_OK(cuCtxSetCurrent(a.context));
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUdeviceptr block = 0;
  CU_OK(cuMemAllocFromPoolAsync(&block, n, pool, stream));
  CU_OK(cuMemcpyHtoDAsync(block, data.data(), n, stream));
  CU_OK(cuStreamSynchronize(stream));
  CU_OK(cuCtxSetCurrent(b.context));
  std::vector<unsigned char> back(n, 0);
  CU_OK(cuMemcpyDtoH(back.data(), block, n));
  CHECK_TRUE(back == data);
  CU_OK(cuCtxSetCurrent(a.context));
  CU_OK(cuMemFreeAsync(block, stream));
  CU_OK(cuStreamSynchronize(stream));
  CU_OK(cuStreamDestroy(stream));
  grant.flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
  CU_OK(cuMemPoolSetAccess(pool, &grant, 1));
  CU_OK(cuMemPoolGetAccess(&flags, pool, &from_b));
  CHECK_TRUE(flags == CU_MEM_ACCESS_FLAGS_PROT_NONE);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: driver_multi_gpu KERNELS.fatbin\n");
    return 2;
  }
  drv::Start();
  int count = 0;
  CU_OK(cuDeviceGetCount(&count));
  std::printf("%d device(s)\n", count);
  if (count < 2) {
    std::printf("one device: nothing to check\n");
    return drv::Verdict("driver_multi_gpu");
  }
  Gpu a, b;
  CU_OK(cuDeviceGet(&a.device, 0));
  CU_OK(cuDeviceGet(&b.device, 1));
  CU_OK(cuDevicePrimaryCtxRetain(&a.context, a.device));
  CU_OK(cuDevicePrimaryCtxRetain(&b.context, b.device));
  Devices(a, b);
  Copies(a, b);
  Peers(a, b, argv[1]);
  PoolAccess(a, b);
  CU_OK(cuDevicePrimaryCtxRelease(b.device));
  return drv::Verdict("driver_multi_gpu");
}
