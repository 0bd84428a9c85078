// Error paths: bad handles, pointers outside any allocation, copies past an allocation's end,
// unsupported calls, fork. Each must be a CUDA error, never a crash or a hang, and the session must stay
// usable afterwards.
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "check.h"

int main() {
  drv::Start();
  CUdeviceptr d = 0;
  CU_OK(cuMemAlloc(&d, 4096));
  std::vector<unsigned char> host(8192, 1);

  // Handles that are not ours.
  int junk = 0;
  auto bad_stream = reinterpret_cast<CUstream>(&junk);
  CU_EXPECT(cuStreamSynchronize(bad_stream), CUDA_ERROR_INVALID_HANDLE);
  CU_EXPECT(cuMemcpyHtoDAsync(d, host.data(), 16, bad_stream), CUDA_ERROR_INVALID_HANDLE);
  CU_EXPECT(cuEventRecord(reinterpret_cast<CUevent>(&junk), nullptr), CUDA_ERROR_INVALID_HANDLE);
  CUfunction f = nullptr;
  CU_EXPECT(cuModuleGetFunction(&f, reinterpret_cast<CUmodule>(&junk), "k"), CUDA_ERROR_INVALID_HANDLE);
  CU_EXPECT(cuCtxSetCurrent(reinterpret_cast<CUcontext>(&junk)), CUDA_ERROR_INVALID_CONTEXT);

  // Pointers outside the session's allocations, and copies running past the end of one.
  CU_EXPECT(cuMemcpyHtoD(d + 8192, host.data(), 16), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemcpyHtoD(d + 4000, host.data(), 200), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemcpyDtoH(host.data(), d + 1, 4096), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemcpyDtoD(d, d + 2048, 4096), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemcpyDtoH(host.data(), 0x1000, 16), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemFree(d + 16), CUDA_ERROR_INVALID_VALUE);
  // An asynchronous error is reported at the next synchronising call, then cleared.
  CU_OK(cuMemsetD8Async(d + 4000, 0, 200, nullptr));
  CUresult latched = cuCtxSynchronize();
  CHECK_TRUE(latched != CUDA_SUCCESS);
  CU_OK(cuCtxSynchronize());

  // Host callbacks after failed work: the stream callback gets the error, the program's next
  // synchronisation reports it once, and the stream goes on.
  CUstream failing = nullptr;
  CU_OK(cuStreamCreate(&failing, CU_STREAM_NON_BLOCKING));
  CU_OK(cuMemsetD8Async(d + 4000, 0, 200, failing));  // fails on the server: latched
  struct Seen {
    bool called = false;
    CUresult status = CUDA_SUCCESS;
  } seen;
  auto record = [](CUstream, CUresult status, void* data) {
    auto* s = static_cast<Seen*>(data);
    s->called = true;
    s->status = status;
  };
  CU_OK(cuStreamAddCallback(failing, record, &seen, 0));
  CU_EXPECT(cuStreamSynchronize(failing), CUDA_ERROR_INVALID_VALUE);
  CHECK_TRUE(seen.called && seen.status == CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuStreamSynchronize(failing));
  bool ran = false;
  CU_OK(cuLaunchHostFunc(
      failing, [](void* data) { *static_cast<bool*>(data) = true; }, &ran));
  CU_OK(cuStreamSynchronize(failing));
  CHECK_TRUE(ran);
  // A host function after failed work is not called (cuLaunchHostFunc's documented rule).
  CU_OK(cuMemsetD8Async(d + 4000, 0, 200, failing));
  ran = false;
  CU_OK(cuLaunchHostFunc(
      failing, [](void* data) { *static_cast<bool*>(data) = true; }, &ran));
  CU_EXPECT(cuStreamSynchronize(failing), CUDA_ERROR_INVALID_VALUE);
  CHECK_TRUE(!ran);
  CU_OK(cuStreamDestroy(failing));

  // Not supported: an error naming itself, never a silent success.
  CUexternalMemory external = nullptr;
  CUDA_EXTERNAL_MEMORY_HANDLE_DESC external_desc{};
  external_desc.type = CU_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD;
  external_desc.handle.fd = 0;
  external_desc.size = 4096;
  CU_EXPECT(cuImportExternalMemory(&external, &external_desc), CUDA_ERROR_NOT_SUPPORTED);
  // ... and the device does not claim what gpupool refuses, so programs that check take their other
  // path (cuda-samples' cudaCompressibleMemory reads these first). Virtual memory management itself
  // works (driver_virtual_memory), and shares by POSIX descriptor (driver_ipc).
  for (CUdevice_attribute absent :
       {CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED, CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED, CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED,
        CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED, CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR}) {
    int supported = -1;
    CU_OK(cuDeviceGetAttribute(&supported, absent, 0));
    CHECK_TRUE(supported == 0);
  }

  // Without a mapped arena (a server on another host; the test sets GPUPOOL_MAPPED_MEMORY=off) mapped
  // host memory is refused, twice over (logged once), and the device says so; pinned memory asked to
  // be mapped is still ordinary pinned memory. With one (and natively) it is mapped
  // (driver_mapped_host). Managed memory is there, without concurrent access (driver_managed).
  int value = -1;
  CU_OK(cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0));
  CHECK_TRUE(value == 1);
  CU_OK(cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, 0));
  CHECK_TRUE(value == 0);
  int can_map = -1;
  CU_OK(cuDeviceGetAttribute(&can_map, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 0));
  std::printf("mapped host memory: %d\n", can_map);
  CU_OK(cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 0));
  CHECK_TRUE(value == 1);
  void* pinned = nullptr;
  CU_OK(cuMemHostAlloc(&pinned, 4096, CU_MEMHOSTALLOC_DEVICEMAP));
  CUdeviceptr mapped = 0;
  const CUresult want = can_map == 1 ? CUDA_SUCCESS : CUDA_ERROR_NOT_SUPPORTED;
  CU_EXPECT(cuMemHostGetDevicePointer(&mapped, pinned, 0), want);
  CU_EXPECT(cuMemHostGetDevicePointer(&mapped, pinned, 0), want);
  CU_OK(cuMemFreeHost(pinned));
  // Pools: device memory only, shared by POSIX descriptor only; frees only of pool memory; callbacks
  // take flags 0.
  CUmemPoolProps props = {};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.handleTypes = CU_MEM_HANDLE_TYPE_FABRIC;
  CUmemoryPool pool = nullptr;
  CU_EXPECT(cuMemPoolCreate(&pool, &props), CUDA_ERROR_NOT_SUPPORTED);
  props.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
  props.location.type = CU_MEM_LOCATION_TYPE_HOST;
  CU_EXPECT(cuMemPoolCreate(&pool, &props), CUDA_ERROR_NOT_SUPPORTED);
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = 99;
  CU_EXPECT(cuMemPoolCreate(&pool, &props), CUDA_ERROR_INVALID_DEVICE);
  CU_EXPECT(cuMemPoolDestroy(reinterpret_cast<CUmemoryPool>(&junk)), CUDA_ERROR_INVALID_VALUE);
  CUmemoryPool default_pool = nullptr;
  CU_OK(cuDeviceGetDefaultMemPool(&default_pool, 0));
  CU_EXPECT(cuMemPoolDestroy(default_pool), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuMemFreeAsync(d, nullptr), CUDA_ERROR_INVALID_VALUE);  // cuMemAlloc memory
  CUdeviceptr pooled = 0;
  CU_EXPECT(cuMemAllocAsync(&pooled, 0, nullptr), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuStreamAddCallback(
                nullptr, [](CUstream, CUresult, void*) {}, nullptr, 1),
            CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuLaunchHostFunc(
                bad_stream, [](void*) {}, nullptr),
            CUDA_ERROR_INVALID_HANDLE);

  // A child forked after the parent used the GPU must not talk on the parent's connection: CUDA
  // fails there with CUDA_ERROR_NOT_INITIALIZED, and the parent carries on.
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    CUdeviceptr p = 0;
    const bool refused =
        cuMemAlloc(&p, 16) == CUDA_ERROR_NOT_INITIALIZED && cuCtxSynchronize() == CUDA_ERROR_NOT_INITIALIZED;
    _exit(refused ? 0 : 1);
  }
  int status = -1;
  CHECK_TRUE(child > 0 && waitpid(child, &status, 0) == child);
  CHECK_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  // Still usable.
  const auto data = drv::RandomBytes(4096, 9);
  std::vector<unsigned char> back(4096);
  CU_OK(cuMemcpyHtoD(d, data.data(), 4096));
  CU_OK(cuMemcpyDtoH(back.data(), d, 4096));
  CHECK_TRUE(back == data);
  CU_OK(cuMemFree(d));
  return drv::Verdict("driver_errors");
}
