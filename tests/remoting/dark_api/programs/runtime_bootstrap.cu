// A stock CUDA runtime program (built by nvcc with the static and with the shared runtime) that
// walks through what the runtime needs the private export tables for: start-up (integrity check,
// context-local storage, tools tables), device queries, memory and symbol copies, a launch, a
// second thread, and cudaDeviceReset followed by more work. Run against the dark API test driver.
//
// Usage: runtime_bootstrap EXPECTED_DEVICE_COUNT. Prints "runtime_bootstrap: PASS" and exits 0, or
// prints what failed and exits 1.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

__device__ unsigned char g_symbol[256];

// Unmangled, so that the test finds the launch the driver records.
extern "C" __global__ void GpupoolTouch(unsigned char* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] = static_cast<unsigned char>(data[i] + g_symbol[i % 256]);
}

namespace {

bool g_failed = false;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::printf("runtime_bootstrap: FAIL: %s\n", what);
    g_failed = true;
  }
}

bool Ok(cudaError_t error, const char* what) {
  if (error != cudaSuccess) {
    std::printf("runtime_bootstrap: FAIL: %s: %s (%d)\n", what, cudaGetErrorName(error),
                static_cast<int>(error));
    g_failed = true;
    return false;
  }
  return true;
}

// H2D then D2H of a pattern through a fresh allocation, and the same through the symbol.
void RoundTrips(unsigned seed) {
  unsigned char in[256];
  unsigned char out[256];
  for (int i = 0; i < 256; ++i) in[i] = static_cast<unsigned char>(seed * 31 + i * 7);
  unsigned char* device = nullptr;
  if (!Ok(cudaMalloc(&device, sizeof in), "cudaMalloc")) return;
  Ok(cudaMemcpy(device, in, sizeof in, cudaMemcpyHostToDevice), "cudaMemcpy host to device");
  std::memset(out, 0, sizeof out);
  Ok(cudaMemcpy(out, device, sizeof out, cudaMemcpyDeviceToHost), "cudaMemcpy device to host");
  Check(std::memcmp(in, out, sizeof in) == 0, "memory round trip returned other bytes");

  Ok(cudaMemcpyToSymbol(g_symbol, in, sizeof in), "cudaMemcpyToSymbol");
  std::memset(out, 0, sizeof out);
  Ok(cudaMemcpyFromSymbol(out, g_symbol, sizeof out), "cudaMemcpyFromSymbol");
  Check(std::memcmp(in, out, sizeof in) == 0, "symbol round trip returned other bytes");

  GpupoolTouch<<<1, 256>>>(device, 256);
  Ok(cudaGetLastError(), "kernel launch");
  Ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  Ok(cudaFree(device), "cudaFree");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: runtime_bootstrap EXPECTED_DEVICE_COUNT\n");
    return 2;
  }
  const int expected = std::atoi(argv[1]);
  int count = -1;
  if (!Ok(cudaGetDeviceCount(&count), "cudaGetDeviceCount")) return 1;
  Check(count == expected, "cudaGetDeviceCount reported another number of devices");

  int driver = 0;
  Ok(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  Check(driver >= 13000, "driver version below 13000");
  for (int device = 0; device < count; ++device) {
    cudaDeviceProp prop{};
    if (Ok(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties")) {
      Check(std::strncmp(prop.name, "gpupool test driver", 19) == 0, "unexpected device name");
      Check(prop.major == 9 && prop.minor == 0, "unexpected compute capability");
    }
    Ok(cudaSetDevice(device), "cudaSetDevice");
    RoundTrips(static_cast<unsigned>(device) + 1);
  }
  Ok(cudaSetDevice(0), "cudaSetDevice(0)");

  // A thread of its own: the runtime finds no context-local state for it and sets the context up.
  std::thread([] { RoundTrips(7); }).join();

  // Reset destroys the primary context; the runtime must start over on the next call.
  Ok(cudaDeviceReset(), "cudaDeviceReset");
  RoundTrips(9);

  if (g_failed) return 1;
  std::printf("runtime_bootstrap: PASS\n");
  return 0;
}
