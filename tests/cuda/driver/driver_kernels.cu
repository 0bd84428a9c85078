// Kernels with many parameter shapes, for driver_launch (compiled to a fatbin, loaded with
// cuModuleLoadData / cuLibraryLoadData). extern "C" keeps their names plain.
#include "kernel_params.h"

struct Big {
  unsigned char bytes[4096];
};
struct Largest {
  unsigned char bytes[32760];
};

__device__ int g_counter;
__device__ float g_table[256];

extern "C" __global__ void k_none() {}
extern "C" __global__ void k_int(int v) {
  g_counter = v;
}
extern "C" __global__ void k_char_double(char c, double d) {
  g_counter = c + static_cast<int>(d);
}
extern "C" __global__ void k_ptr_size(float* p, unsigned long long n) {
  if (threadIdx.x < n) p[threadIdx.x] = 1.0f;
}
extern "C" __global__ void k_structs(Small s, char c, Mixed m) {
  g_counter = s.i + c + static_cast<int>(m.d);
}
extern "C" __global__ void k_big(Big b, int tail) {
  g_counter = b.bytes[4095] + tail;
}
extern "C" __global__ void k_largest(Largest l, int tail) {
  g_counter = l.bytes[32759] + tail;
}
// Busy for `ns` nanoseconds of the GPU's global timer (driver_deferred_copies: a stream that is still
// working when the program's next calls are made). The emulated device instead keeps the stream busy
// for its --emulated-kernel-time.
extern "C" __global__ void k_spin(unsigned long long ns) {
  unsigned long long start = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}
