// Mapped ("zero-copy") host memory: pinned memory a kernel reaches through the program's own pointer.
// Through gpupool it exists when the server is on this host (the mapped arena, a worker and the
// program sharing the pages); the device then reports CAN_MAP_HOST_MEMORY, which this program prints
// and follows, as programs that check do. With it: the device pointer is the host pointer, the
// server's copies and memsets read and write the program's pages directly (no bytes travel), a kernel
// writes them (on a GPU it ran: "mapped kernel wrote" is compared native and through gpupool; the
// emulated device records the launch only), memory freed and allocated again, threads at once,
// and memory the program registered itself is not the GPU's through gpupool. Without it: allocations still
// work and cuMemHostGetDevicePointer says CUDA_ERROR_NOT_SUPPORTED. GPUPOOL_TEST_MAPPED_LIMIT (bytes; the
// server's --session-mapped-memory, set by the test) adds the checks of that limit.
//
//   driver_mapped_host KERNELS.fatbin
#include <cuda.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "check.h"

namespace {

bool AllBytes(const void* p, std::size_t n, unsigned char value) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    if (bytes[i] != value) return false;
  }
  return true;
}

// The device address is the host address, anywhere inside the allocation; pointer queries agree.
void Addresses(void* host, std::size_t n) {
  CUdeviceptr device = 0;
  CU_OK(cuMemHostGetDevicePointer(&device, host, 0));
  CHECK_TRUE(device == reinterpret_cast<CUdeviceptr>(host));
  CU_OK(cuMemHostGetDevicePointer(&device, static_cast<char*>(host) + n - 1, 0));
  CHECK_TRUE(device == reinterpret_cast<CUdeviceptr>(host) + n - 1);
  CU_EXPECT(cuMemHostGetDevicePointer(&device, host, 1), CUDA_ERROR_INVALID_VALUE);
  unsigned type = 0;
  CU_OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, reinterpret_cast<CUdeviceptr>(host)));
  CHECK_TRUE(type == CU_MEMORYTYPE_HOST);
  CUdeviceptr attribute = 0;
  CU_OK(cuPointerGetAttribute(&attribute, CU_POINTER_ATTRIBUTE_DEVICE_POINTER,
                              reinterpret_cast<CUdeviceptr>(host)));
  CHECK_TRUE(attribute == reinterpret_cast<CUdeviceptr>(host));
}

// The server's copies and memsets use the program's pages as device memory.
void DeviceSide(void* host, std::size_t n) {
  const CUdeviceptr mapped = reinterpret_cast<CUdeviceptr>(host);
  const std::vector<unsigned char> data = drv::RandomBytes(n, 11);
  std::memcpy(host, data.data(), n);
  CUdeviceptr device = 0;
  CU_OK(cuMemAlloc(&device, n));
  CU_OK(cuMemcpyDtoD(device, mapped, n));  // reads what the program wrote, where it wrote it
  std::vector<unsigned char> back(n, 0);
  CU_OK(cuMemcpyDtoH(back.data(), device, n));
  CHECK_TRUE(back == data);
  CU_OK(cuMemsetD32(mapped, 0x5a5a5a5a, n / 4));  // visible in the program's pages, no copy back
  CU_OK(cuCtxSynchronize());
  CHECK_TRUE(AllBytes(host, n / 4 * 4, 0x5a));
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CU_OK(cuMemsetD8Async(mapped + 1, 0x77, 100, stream));
  CU_OK(cuMemcpyDtoDAsync(device, mapped, n, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(AllBytes(static_cast<char*>(host) + 1, 100, 0x77));
  CU_OK(cuMemcpyDtoH(back.data(), device, 101));
  CHECK_TRUE(back[0] == 0x5a && AllBytes(back.data() + 1, 100, 0x77));
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemFree(device));
}

// The program's own copies to and from its mapped memory (through gpupool the worker copies between
// those pages and the device itself): synchronous ones are done when they return, asynchronous ones
// when their stream is; parts at offsets; unified cuMemcpy both ways.
void HostCopies(void* host, std::size_t n) {
  auto* bytes = static_cast<unsigned char*>(host);
  const std::vector<unsigned char> data = drv::RandomBytes(n, 21);
  std::memcpy(host, data.data(), n);
  CUdeviceptr device = 0;
  CU_OK(cuMemAlloc(&device, n));
  CU_OK(cuMemcpyHtoD(device, host, n));
  std::vector<unsigned char> back(n, 0);
  CU_OK(cuMemcpyDtoH(back.data(), device, n));
  CHECK_TRUE(back == data);
  std::memset(host, 0, n);
  CU_OK(cuMemcpyDtoH(host, device, n));
  CHECK_TRUE(std::memcmp(host, data.data(), n) == 0);
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, 0));
  std::memset(host, 0x11, n);
  CU_OK(cuMemcpyHtoDAsync(device, host, n, stream));
  CU_OK(cuStreamSynchronize(stream));
  std::memset(host, 0, n);
  CU_OK(cuMemcpyDtoHAsync(host, device, n, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(AllBytes(host, n, 0x11));
  std::memcpy(bytes + 4097, data.data(), 1000);
  CU_OK(cuMemcpyHtoD(device + 5, bytes + 4097, 1000));
  CU_OK(cuMemcpyDtoH(back.data(), device, 1005));
  CHECK_TRUE(AllBytes(back.data(), 5, 0x11) && std::memcmp(back.data() + 5, data.data(), 1000) == 0);
  const std::vector<unsigned char> before(bytes, bytes + n);
  CU_OK(cuMemcpy(device, reinterpret_cast<CUdeviceptr>(host), n));  // unified addressing
  std::memset(host, 0, n);
  CU_OK(cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(host) + 1, device + 1, n - 1, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(bytes[0] == 0 && std::memcmp(bytes + 1, before.data() + 1, n - 1) == 0);
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemFree(device));
}

// Pitched rows between mapped memory and the device (cuMemcpy2D, sync and async): each row lands in
// place, the bytes between rows are left alone.
void Copies2D(void* host) {
  constexpr std::size_t kWidth = 300, kHeight = 20, kHostPitch = 512;
  auto* bytes = static_cast<unsigned char*>(host);
  auto pattern = [](std::size_t r, std::size_t c) {
    return static_cast<unsigned char>((r * 31 + c) % 251 + 1);
  };
  for (std::size_t r = 0; r < kHeight; ++r)
    for (std::size_t c = 0; c < kWidth; ++c) bytes[r * kHostPitch + c] = pattern(r, c);
  CUdeviceptr device = 0;
  std::size_t pitch = 0;
  CU_OK(cuMemAllocPitch(&device, &pitch, kWidth, kHeight, 4));
  const CUDA_MEMCPY2D up{.srcMemoryType = CU_MEMORYTYPE_HOST,
                         .srcHost = host,
                         .srcPitch = kHostPitch,
                         .dstMemoryType = CU_MEMORYTYPE_DEVICE,
                         .dstDevice = device,
                         .dstPitch = pitch,
                         .WidthInBytes = kWidth,
                         .Height = kHeight};
  CU_OK(cuMemcpy2D(&up));
  std::memset(host, 0, (kHeight + 1) * kHostPitch);
  const CUDA_MEMCPY2D down{.srcMemoryType = CU_MEMORYTYPE_DEVICE,
                           .srcDevice = device,
                           .srcPitch = pitch,
                           .dstXInBytes = 7,
                           .dstY = 1,
                           .dstMemoryType = CU_MEMORYTYPE_HOST,
                           .dstHost = host,
                           .dstPitch = kHostPitch,
                           .WidthInBytes = kWidth,
                           .Height = kHeight};
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CU_OK(cuMemcpy2DAsync(&down, stream));
  CU_OK(cuStreamSynchronize(stream));
  bool rows = AllBytes(host, kHostPitch, 0);
  for (std::size_t r = 0; r < kHeight; ++r) {
    const unsigned char* row = bytes + (r + 1) * kHostPitch;
    rows = rows && AllBytes(row, 7, 0) && AllBytes(row + 7 + kWidth, kHostPitch - 7 - kWidth, 0);
    for (std::size_t c = 0; c < kWidth; ++c) rows = rows && row[7 + c] == pattern(r, c);
  }
  CHECK_TRUE(rows);
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemFree(device));
}

// A kernel writes the program's pages; it reads them without a copy.
void Kernel(const char* fatbin, void* host) {
  CUmodule module = nullptr;
  CUfunction fill = nullptr;
  if (!CU_OK(cuModuleLoad(&module, fatbin)) || !CU_OK(cuModuleGetFunction(&fill, module, "k_ptr_size")))
    return;
  constexpr unsigned kFloats = 32;
  auto* floats = static_cast<float*>(host);
  for (unsigned i = 0; i < kFloats; ++i) floats[i] = -1.0f;
  drv::LaunchFill(fill, floats, kFloats);
  CU_OK(cuCtxSynchronize());
  std::printf("mapped kernel wrote %.1f .. %.1f\n", floats[0], floats[kFloats - 1]);
  CU_OK(cuModuleUnload(module));
}

// Freed and allocated again, the memory is the GPU's again. (That it reads as zeros, and that the
// freed range is no device memory any more, the server test checks: CUDA promises neither, and on a
// GPU a copy from a freed range may fault the context instead of failing the call.)
void FreeAndAgain(std::size_t n) {
  void* first = nullptr;
  CU_OK(cuMemHostAlloc(&first, n, CU_MEMHOSTALLOC_DEVICEMAP));
  if (first == nullptr) return;
  std::memset(first, 0xee, n);
  CU_OK(cuMemFreeHost(first));
  void* second = nullptr;
  CU_OK(cuMemHostAlloc(&second, n, CU_MEMHOSTALLOC_DEVICEMAP));
  if (second == nullptr) return;
  CU_OK(cuMemsetD8(reinterpret_cast<CUdeviceptr>(second), 0x21, n));
  CHECK_TRUE(AllBytes(second, n, 0x21));
  CU_OK(cuMemFreeHost(second));
}

// Threads allocate, use and free mapped memory at once.
void Threads(CUcontext context) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([context, t] {
      CU_OK(cuCtxSetCurrent(context));
      for (int i = 0; i < 25; ++i) {
        const std::size_t n = 4096u * static_cast<std::size_t>(1 + (t * 25 + i) % 7);
        void* p = nullptr;
        if (!CU_OK(cuMemHostAlloc(&p, n, CU_MEMHOSTALLOC_DEVICEMAP))) return;
        CU_OK(cuMemsetD8(reinterpret_cast<CUdeviceptr>(p), static_cast<unsigned char>(t + 1), n));
        CHECK_TRUE(AllBytes(p, n, static_cast<unsigned char>(t + 1)));
        CU_OK(cuMemFreeHost(p));
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

// Memory the program registered: natively mapped, through gpupool pinned but not the GPU's (its device
// pointer refused, which ctest finds in the log), never anything else.
void Registered() {
  std::vector<unsigned char> buffer(1 << 16);
  CU_OK(cuMemHostRegister(buffer.data(), buffer.size(), CU_MEMHOSTREGISTER_DEVICEMAP));
  CUdeviceptr device = 0;
  const CUresult r = cuMemHostGetDevicePointer(&device, buffer.data(), 0);
  CHECK_TRUE(r == CUDA_SUCCESS || r == CUDA_ERROR_NOT_SUPPORTED);
  CU_OK(cuMemHostUnregister(buffer.data()));
  int unknown = 0;
  CU_EXPECT(cuMemHostGetDevicePointer(&device, &unknown, 0), CUDA_ERROR_INVALID_VALUE);
}

// The server's --session-mapped-memory: an allocation past it is still pinned memory, but not the
// GPU's (said once for DEVICEMAP), with or without the flag.
void Limit(std::size_t limit) {
  void* p = nullptr;
  CUdeviceptr device = 0;
  for (unsigned flags : {unsigned{CU_MEMHOSTALLOC_DEVICEMAP}, 0u}) {
    CU_OK(cuMemHostAlloc(&p, limit + 4096, flags));
    CU_EXPECT(cuMemHostGetDevicePointer(&device, p, 0), CUDA_ERROR_NOT_SUPPORTED);
    CU_OK(cuMemFreeHost(p));
  }
  CU_OK(cuMemHostAlloc(&p, limit, CU_MEMHOSTALLOC_DEVICEMAP));  // exactly the limit fits
  CU_OK(cuMemFreeHost(p));
}

}  // namespace

int main(int argc, char** argv) {
  (void)drv::KernelsArgument(argc, argv, "driver_mapped_host");
  const CUcontext context = drv::Start();
  int can_map = -1;
  CU_OK(cuDeviceGetAttribute(&can_map, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 0));
  std::printf("mapped host memory: %d\n", can_map);
  const std::size_t n = (1u << 20) + 123;
  void* host = nullptr;
  CU_OK(cuMemHostAlloc(&host, n, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE));
  if (host == nullptr) return drv::Verdict("driver_mapped_host");
  CHECK_TRUE(AllBytes(host, n, 0));
  if (can_map == 1) {
    Addresses(host, n);
    DeviceSide(host, n);
    HostCopies(host, n);
    Copies2D(host);
    Kernel(argv[1], host);
    FreeAndAgain(3 * 4096 + 5);
    Threads(context);
    void* plain = nullptr;  // no flags: mapped all the same, as with unified addressing
    CU_OK(cuMemAllocHost(&plain, 4096));
    CUdeviceptr device = 0;
    CU_OK(cuMemHostGetDevicePointer(&device, plain, 0));
    CU_OK(cuMemFreeHost(plain));
    Registered();
  } else {
    CUdeviceptr device = 0;
    CU_EXPECT(cuMemHostGetDevicePointer(&device, host, 0), CUDA_ERROR_NOT_SUPPORTED);
  }
  CU_OK(cuMemFreeHost(host));
  CU_EXPECT(cuMemFreeHost(host), CUDA_ERROR_INVALID_VALUE);
  const char* limit = std::getenv("GPUPOOL_TEST_MAPPED_LIMIT");
  if (can_map == 1 && limit != nullptr) Limit(std::strtoull(limit, nullptr, 10));  // with nothing else held
  return drv::Verdict("driver_mapped_host");
}
