// Kernels that print (device printf), compiled by nvcc at build time into cubins for
// device_printf_test.cpp (never run: the emulated device reads which kernels call vprintf and the
// module's format strings).
#include <cstdio>

__device__ __noinline__ void Report(int value) {
  printf("indirect %d\n", value);
}

extern "C" __global__ void k_print(int value) {
  printf("direct %d from %d\n", value, static_cast<int>(threadIdx.x));
}

extern "C" __global__ void k_print_through_function(int value) {
  Report(value);
}

extern "C" __global__ void k_quiet(int* out) {
  *out = 1;
}
