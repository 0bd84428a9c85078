// gpupool-device-query: what a program sees of the GPU it was given, through the CUDA driver API
// alone (like NVIDIA's deviceQueryDrv), then a timed host→device→host round trip of 64 MiB whose
// bytes are checked. Built like any driver-API program (linked against the toolkit's libcuda stub),
// so it loads whichever libcuda.so.1 comes first: the real driver, or gpupool's under `gpupool run`.
//
//   gpupool run -- build/bin/gpupool-device-query
#include <cuda.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

bool Check(CUresult result, const char* call) {
  if (result == CUDA_SUCCESS) return true;
  const char* name = nullptr;
  cuGetErrorName(result, &name);
  std::fprintf(stderr, "%s failed: %s (%d)\n", call, name != nullptr ? name : "?", static_cast<int>(result));
  return false;
}
#define CHECK(call) \
  if (!Check((call), #call)) return EXIT_FAILURE

int Attribute(CUdevice device, CUdevice_attribute attribute) {
  int value = 0;
  cuDeviceGetAttribute(&value, attribute, device);
  return value;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

int main() {
  CHECK(cuInit(0));
  int driver = 0, count = 0;
  CHECK(cuDriverGetVersion(&driver));
  CHECK(cuDeviceGetCount(&count));
  std::printf("CUDA driver API %d.%d, %d device(s)\n", driver / 1000, driver % 1000 / 10, count);
  for (int i = 0; i < count; ++i) {
    CUdevice device;
    CHECK(cuDeviceGet(&device, i));
    char name[256] = {};
    std::size_t memory = 0;
    CUuuid uuid{};
    CHECK(cuDeviceGetName(name, sizeof name, device));
    CHECK(cuDeviceTotalMem(&memory, device));
    CHECK(cuDeviceGetUuid(&uuid, device));
    std::printf("Device %d: %s\n", i, name);
    std::printf("  UUID                    GPU-");
    for (int b = 0; b < 16; ++b)
      std::printf("%02x%s", static_cast<unsigned char>(uuid.bytes[b]),
                  (b == 3 || b == 5 || b == 7 || b == 9) ? "-" : "");
    std::printf("\n  compute capability      %d.%d\n",
                Attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                Attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
    std::printf("  global memory           %.1f GiB\n", static_cast<double>(memory) / (1ull << 30));
    std::printf("  multiprocessors         %d\n",
                Attribute(device, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
    std::printf("  max threads per block   %d\n",
                Attribute(device, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
    std::printf("  shared memory per block %d KiB\n",
                Attribute(device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK) / 1024);
    std::printf("  PCI                     %04x:%02x:%02x\n",
                Attribute(device, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID),
                Attribute(device, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
                Attribute(device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID));
  }
  if (count == 0) return EXIT_FAILURE;

  // A round trip through device memory on device 0: the bytes must come back unchanged.
  CUdevice device;
  CUcontext context;
  CHECK(cuDeviceGet(&device, 0));
  CHECK(cuDevicePrimaryCtxRetain(&context, device));
  CHECK(cuCtxSetCurrent(context));
  std::size_t free_bytes = 0, total_bytes = 0;
  CHECK(cuMemGetInfo(&free_bytes, &total_bytes));
  std::printf("Context on device 0: %.1f GiB free of %.1f GiB\n",
              static_cast<double>(free_bytes) / (1ull << 30),
              static_cast<double>(total_bytes) / (1ull << 30));
  constexpr std::size_t kBytes = 64ull << 20;
  std::vector<unsigned char> out(kBytes), back(kBytes);
  std::srand(7);
  for (auto& b : out) b = static_cast<unsigned char>(std::rand());
  CUdeviceptr buffer;
  CHECK(cuMemAlloc(&buffer, kBytes));
  auto t0 = std::chrono::steady_clock::now();
  CHECK(cuMemcpyHtoD(buffer, out.data(), kBytes));
  auto t1 = std::chrono::steady_clock::now();
  CHECK(cuMemcpyDtoH(back.data(), buffer, kBytes));
  auto t2 = std::chrono::steady_clock::now();
  CHECK(cuMemFree(buffer));
  CHECK(cuDevicePrimaryCtxRelease(device));
  const bool same = out == back;
  std::printf("64 MiB round trip: host->device %.2f GB/s, device->host %.2f GB/s, data %s\n",
              kBytes / Seconds(t1 - t0) / 1e9, kBytes / Seconds(t2 - t1) / 1e9,
              same ? "intact" : "CORRUPTED");
  return same ? EXIT_SUCCESS : EXIT_FAILURE;
}
