// Asynchronous device-to-host copies into pinned memory return before the copy is done, as natively:
// the program works on the CPU while a kernel and the copy behind it run (the asyncAPI sample's
// pattern; also for a 2D copy with gaps between rows), and every way of waiting for a copy finds its bytes in
// place: an event query polled to success, a stream synchronisation, a host function behind the copy, a
// synchronous copy on the NULL stream (which leaves a non-blocking stream's copy running), a context
// synchronisation after a copy larger than gpupool's deferred window, an event synchronisation into
// registered memory; and into pageable memory, which CUDA copies synchronously. Stream order holds through
// host memory too: a copy from the buffer a deferred copy fills reads its bytes, and a later copy into the
// same bytes (a 2D copy, a copy past the deferred window) wins. Usage: driver_deferred_copies KERNELS.fatbin
#include <cstring>

#include "check.h"

namespace {

// A GPU spins this long (the emulated device: its --emulated-kernel-time).
constexpr unsigned long long kSpinNs = 300'000'000;
constexpr std::size_t kSize = 8u << 20;    // one copy
constexpr std::size_t kLarge = 80u << 20;  // more than gpupool defers at once (64 MiB)

CUfunction g_spin = nullptr;

void Spin(CUstream stream) {
  unsigned long long ns = kSpinNs;
  void* params[] = {&ns};
  CU_OK(cuLaunchKernel(g_spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
}

struct Landed {
  const unsigned char* buffer;
  const unsigned char* want;
  bool same = false;
};

void CompareInHostFunction(void* arg) {
  auto* landed = static_cast<Landed*>(arg);
  landed->same = std::memcmp(landed->buffer, landed->want, kSize) == 0;
}

bool Same(const unsigned char* got, const std::vector<unsigned char>& want, std::size_t offset,
          std::size_t n) {
  return std::memcmp(got, want.data() + offset, n) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string image = drv::KernelsArgument(argc, argv, "driver_deferred_copies");
  drv::Start();
  CUmodule module = nullptr;
  if (!CU_OK(cuModuleLoadData(&module, image.data())) ||
      !CU_OK(cuModuleGetFunction(&g_spin, module, "k_spin")))
    return drv::Verdict("driver_deferred_copies");
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, 0));  // blocking: the NULL stream waits for it
  CUdeviceptr device = 0;
  CU_OK(cuMemAlloc(&device, kLarge));
  const auto data = drv::RandomBytes(kLarge, 11);
  CU_OK(cuMemcpyHtoD(device, data.data(), kLarge));
  unsigned char* pinned = nullptr;
  CU_OK(cuMemAllocHost(reinterpret_cast<void**>(&pinned), kLarge));
  CUevent done = nullptr;
  CU_OK(cuEventCreate(&done, CU_EVENT_DISABLE_TIMING));

  // The CPU works while the GPU does (asyncAPI): the copy's call returns while the stream is busy.
  Spin(stream);
  const bool kernels_take_time = cuStreamQuery(stream) == CUDA_ERROR_NOT_READY;
  CU_OK(cuMemcpyDtoHAsync(pinned, device, kSize, stream));
  CU_OK(cuEventRecord(done, stream));
  long polls = 0;
  CUresult query = CUDA_SUCCESS;
  while ((query = cuEventQuery(done)) == CUDA_ERROR_NOT_READY) ++polls;
  CU_OK(query);
  if (kernels_take_time) {
    std::printf("CPU polls while the kernel and the copy ran: %s\n", polls > 0 ? "some" : "none");
    CHECK_TRUE(polls > 0);
  } else {
    std::printf("SKIP overlap: kernels take no time on this device\n");
  }
  CHECK_TRUE(Same(pinned, data, 0, kSize));

  // The same for a 2D copy with gaps between rows on both sides (an image's rows, pitched on the
  // device, into a wider host buffer): its call returns while the stream is busy, and its rows land in
  // place, the gaps left alone.
  {
    constexpr std::size_t kWidth = 3000, kDevicePitch = 4096, kHostPitch = 5000, kRows = 1500;
    std::memset(pinned, 0x5a, kRows * kHostPitch);
    CUDA_MEMCPY2D image{};
    image.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    image.srcDevice = device + 64;
    image.srcPitch = kDevicePitch;
    image.dstMemoryType = CU_MEMORYTYPE_HOST;
    image.dstHost = pinned + 7;
    image.dstPitch = kHostPitch;
    image.WidthInBytes = kWidth;
    image.Height = kRows;
    Spin(stream);
    CU_OK(cuMemcpy2DAsync(&image, stream));
    CU_OK(cuEventRecord(done, stream));
    polls = 0;
    while ((query = cuEventQuery(done)) == CUDA_ERROR_NOT_READY) ++polls;
    CU_OK(query);
    if (kernels_take_time) {
      std::printf("CPU polls while the kernel and the 2D copy ran: %s\n", polls > 0 ? "some" : "none");
      CHECK_TRUE(polls > 0);
    }
    bool rows_landed = true, gaps_kept = true;
    for (std::size_t r = 0; r < kRows; ++r) {
      rows_landed = rows_landed && Same(pinned + 7 + r * kHostPitch, data, 64 + r * kDevicePitch, kWidth);
      const unsigned char* gap = pinned + 7 + r * kHostPitch + kWidth;
      for (std::size_t g = 0; g + 7 + kWidth < kHostPitch && g < 16; ++g)
        gaps_kept = gaps_kept && gap[g] == 0x5a;
    }
    CHECK_TRUE(rows_landed);
    CHECK_TRUE(gaps_kept);
    CHECK_TRUE(pinned[0] == 0x5a && pinned[6] == 0x5a);
  }

  // A stream synchronisation.
  std::memset(pinned, 0, kSize);
  Spin(stream);
  CU_OK(cuMemcpyDtoHAsync(pinned, device + kSize, kSize, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(Same(pinned, data, kSize, kSize));

  // A host function behind the copy sees its bytes.
  std::memset(pinned, 0, kSize);
  Landed landed{pinned, data.data()};
  Spin(stream);
  CU_OK(cuMemcpyDtoHAsync(pinned, device, kSize, stream));
  CU_OK(cuLaunchHostFunc(stream, CompareInHostFunction, &landed));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(landed.same);

  // A synchronous copy waits for the NULL stream, which waits for this blocking stream.
  std::memset(pinned, 0, kSize);
  Spin(stream);
  CU_OK(cuMemcpyDtoHAsync(pinned, device + 2 * kSize, kSize, stream));
  unsigned char first = 0;
  CU_OK(cuMemcpyDtoH(&first, device, 1));
  CHECK_TRUE(first == data[0]);
  CHECK_TRUE(Same(pinned, data, 2 * kSize, kSize));

  // ... but not for a non-blocking stream, which the NULL stream does not wait for: a copy deferred
  // there is still out when the synchronous copy returns, as its stream is still running natively,
  // and lands at that stream's synchronisation.
  if (kernels_take_time) {
    CUstream side = nullptr;
    CU_OK(cuStreamCreate(&side, CU_STREAM_NON_BLOCKING));
    std::memset(pinned, 0, kSize);
    for (int i = 0; i < 4; ++i) Spin(side);
    CU_OK(cuMemcpyDtoHAsync(pinned, device + kSize, kSize, side));
    CU_OK(cuMemcpyDtoH(&first, device + 1, 1));
    CHECK_TRUE(first == data[1]);
    CHECK_TRUE(cuStreamQuery(side) == CUDA_ERROR_NOT_READY);
    CU_OK(cuStreamSynchronize(side));
    CHECK_TRUE(Same(pinned, data, kSize, kSize));
    CU_OK(cuStreamDestroy(side));
  }

  // Larger than gpupool's window of deferred chunks; then a context synchronisation.
  std::memset(pinned, 0, kLarge);
  Spin(stream);
  CU_OK(cuMemcpyDtoHAsync(pinned + 1, device + 3, kLarge - 3, stream));
  CU_OK(cuCtxSynchronize());
  CHECK_TRUE(Same(pinned + 1, data, 3, kLarge - 3));

  // Stream order through host memory: a copy back to the device from the buffer a copy to the host is
  // filling reads the bytes that copy brings.
  CUdeviceptr other = 0;
  CU_OK(cuMemAlloc(&other, kSize));
  CU_OK(cuMemsetD8(other, 0, kSize));
  Spin(stream);
  CU_OK(cuMemcpyDtoHAsync(pinned, device + kSize, kSize, stream));
  CU_OK(cuMemcpyHtoDAsync(other, pinned, kSize, stream));
  std::vector<unsigned char> back(kSize, 0);
  CU_OK(cuMemcpyDtoHAsync(back.data(), other, kSize, stream));  // pageable: complete on return
  CHECK_TRUE(Same(back.data(), data, kSize, kSize));
  // ... and a later copy into the same bytes is what they hold in the end: a 2D copy with gaps between
  // its rows (deferred too), and a copy made while the deferred window is full (64 MiB of earlier
  // copies).
  Spin(stream);
  CU_OK(cuMemcpyDtoHAsync(pinned, device, kSize, stream));
  CUDA_MEMCPY2D rows{};
  rows.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  rows.srcDevice = device + 2 * kSize;
  rows.srcPitch = 4096;
  rows.dstMemoryType = CU_MEMORYTYPE_HOST;
  rows.dstHost = pinned;
  rows.dstPitch = 8192;
  rows.WidthInBytes = 4096;
  rows.Height = 16;
  CU_OK(cuMemcpy2DAsync(&rows, stream));
  CU_OK(cuStreamSynchronize(stream));
  bool rows_won = true, gaps_kept = true;
  for (std::size_t r = 0; r < 16; ++r) {
    rows_won = rows_won && Same(pinned + r * 8192, data, 2 * kSize + r * 4096, 4096);
    gaps_kept = gaps_kept && Same(pinned + r * 8192 + 4096, data, r * 8192 + 4096, 4096);
  }
  CHECK_TRUE(rows_won);
  CHECK_TRUE(gaps_kept);
  CHECK_TRUE(Same(pinned + 16 * 8192, data, 16 * 8192, kSize - 16 * 8192));
  Spin(stream);
  CU_OK(cuMemcpyDtoHAsync(pinned, device, 64u << 20, stream));
  CU_OK(cuMemcpyDtoHAsync(pinned, device + 3 * kSize, 4096, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(Same(pinned, data, 3 * kSize, 4096));
  CHECK_TRUE(Same(pinned + 4096, data, 4096, (64u << 20) - 4096));
  CU_OK(cuMemFree(other));

  // Registered memory and an event synchronisation; then pageable memory.
  std::vector<unsigned char> registered(kSize, 0), pageable(kSize, 0);
  CU_OK(cuMemHostRegister(registered.data(), kSize, 0));
  Spin(stream);
  CU_OK(cuMemcpyDtoHAsync(registered.data(), device + kSize, kSize, stream));
  CU_OK(cuEventRecord(done, stream));
  CU_OK(cuEventSynchronize(done));
  CHECK_TRUE(Same(registered.data(), data, kSize, kSize));
  CU_OK(cuMemHostUnregister(registered.data()));
  CU_OK(cuMemcpyDtoHAsync(pageable.data(), device + 5, kSize, stream));
  CU_OK(cuStreamSynchronize(stream));
  CHECK_TRUE(Same(pageable.data(), data, 5, kSize));

  CU_OK(cuEventDestroy(done));
  CU_OK(cuMemFreeHost(pinned));
  CU_OK(cuMemFree(device));
  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuModuleUnload(module));
  return drv::Verdict("driver_deferred_copies");
}
