// Kernels with assorted parameter shapes, compiled by nvcc at build time into a cubin, a fatbin and
// PTX for modules_test.cpp (never run: the emulated device parses them).
struct Pair {
  double a;
  int b;
  char c[12];
};
struct Big {
  long long v[512];  // 4096 bytes of parameters
};
struct Huge {
  char bytes[32000];  // near the 32764-byte limit of CUDA 12.1+
};

__device__ int g_counter;
__device__ float g_table[100] = {1.0f, 2.0f, 3.0f};
__constant__ int c_coeffs[16];

extern "C" __global__ void k_empty() {}

extern "C" __global__ void k_ptrs(float* out, const float* in, int n) {
  if (threadIdx.x < n) out[threadIdx.x] = in[threadIdx.x] + g_table[n] + c_coeffs[n & 15];
  g_counter++;
}

extern "C" __global__ void k_mixed(char c, double d, short s, Pair p, void* out) {
  if (out) *static_cast<double*>(out) = c + d + s + p.a + p.b + p.c[3];
}

extern "C" __global__ void k_shared(Pair p, int index, long long x) {
  __shared__ float tile[512];
  extern __shared__ float dynamic[];
  tile[threadIdx.x] = static_cast<float>(p.a + x);
  __syncthreads();
  if (index) g_table[0] = tile[index] + dynamic[index];
}

extern "C" __global__ void __launch_bounds__(256) k_bounded(int* out) {
  out[threadIdx.x] = 1;
}

extern "C" __global__ void k_big(Big big, int* out) {
  out[threadIdx.x] = static_cast<int>(big.v[threadIdx.x]);
}

extern "C" __global__ void k_huge(Huge h, int i) {
  g_table[i & 63] = h.bytes[i];
}

extern "C" __global__ void k_many(int a0, int a1, int a2, int a3, int a4, int a5, int a6, int a7, char c,
                                  double d, int a8, float* p) {
  if (p) p[0] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + c + d + a8;
}

__global__ void cpp_kernel(int x, float* y) {
  y[0] = static_cast<float>(x);
}
