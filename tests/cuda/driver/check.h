// What every driver-API test program shares: checks that count failures instead of stopping, a
// context on device 0, random data, and the verdict. Each program prints one "PASS <name>" line and
// exits 0, or a "FAIL: ..." line per failed check and exits 1.
#pragma once

#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace drv {

inline int g_failures = 0;

inline const char* Name(CUresult r) {
  const char* name = nullptr;
  return cuGetErrorName(r, &name) == CUDA_SUCCESS ? name : "(unknown CUresult)";
}

// Expects `call` to return `want`; reports file, line, call and both codes otherwise.
inline bool Expect(CUresult got, CUresult want, const char* call, const char* file, int line) {
  if (got == want) return true;
  std::printf("FAIL: %s:%d: %s returned %s, expected %s\n", file, line, call, Name(got), Name(want));
  ++g_failures;
  return false;
}

#define CU_OK(call) ::drv::Expect((call), CUDA_SUCCESS, #call, __FILE__, __LINE__)
#define CU_EXPECT(call, want) ::drv::Expect((call), (want), #call, __FILE__, __LINE__)
#define CHECK_TRUE(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::printf("FAIL: %s:%d: %s is false\n", __FILE__, __LINE__, #cond); \
      ++::drv::g_failures;                                                  \
    }                                                                       \
  } while (0)

// cuInit and the primary context of device 0, made current; exits when that fails.
inline CUcontext Start() {
  CUdevice device = 0;
  CUcontext context = nullptr;
  if (!CU_OK(cuInit(0)) || !CU_OK(cuDeviceGet(&device, 0)) ||
      !CU_OK(cuDevicePrimaryCtxRetain(&context, device)) || !CU_OK(cuCtxSetCurrent(context))) {
    std::exit(1);
  }
  return context;
}

inline std::vector<unsigned char> RandomBytes(std::size_t n, unsigned seed) {
  std::vector<unsigned char> bytes(n);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < n; i += 8) {
    const unsigned long long v = rng();
    for (std::size_t j = 0; j < 8 && i + j < n; ++j) bytes[i + j] = static_cast<unsigned char>(v >> (8 * j));
  }
  return bytes;
}

// `n` bytes as lowercase hex, the form the server's launch records use for parameter bytes.
inline std::string Hex(const unsigned char* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// Launches driver_kernels.cu's k_ptr_size (`fill`) on one block of `n` threads, writing 1.0 to p[0..n),
// and prints the EXPECT line ctest compares with the server's launch record.
inline void LaunchFill(CUfunction fill, float* p, unsigned n) {
  unsigned long long count = n;
  void* params[] = {&p, &count};
  CU_OK(cuLaunchKernel(fill, 1, 1, 1, n, 1, 1, 0, nullptr, params, nullptr));
  unsigned char bytes[16];
  std::memcpy(bytes, &p, 8);
  std::memcpy(bytes + 8, &count, 8);
  std::printf("EXPECT k_ptr_size 1,1,1 %u,1,1 %s\n", n, Hex(bytes, sizeof bytes).c_str());
}

// The bytes of file `path` (a kernel image); exits with a FAIL line when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::printf("FAIL: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A program run as `program KERNELS.fatbin`: the image's bytes; exits 2 with a usage line otherwise.
inline std::string KernelsArgument(int argc, char** argv, const char* program) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s KERNELS.fatbin\n", program);
    std::exit(2);
  }
  return ReadFile(argv[1]);
}

inline int Verdict(const char* name) {
  if (g_failures == 0) {
    std::printf("PASS %s\n", name);
    return 0;
  }
  std::printf("%d checks failed in %s\n", g_failures, name);
  return 1;
}

}  // namespace drv
