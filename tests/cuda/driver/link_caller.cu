// JIT-link test input (driver_link.cpp): a kernel that calls a device function defined in another
// file (link_callee.cu), so it only loads after the two are linked (nvcc -rdc=true).
extern "C" __device__ int link_callee(int x);

extern "C" __global__ void link_kernel(int* out, int x) {
  *out = link_callee(x);
}
