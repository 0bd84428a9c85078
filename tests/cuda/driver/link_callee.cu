// JIT-link test input (driver_link.cpp): the device function link_caller.cu's kernel calls.
extern "C" __device__ int link_callee(int x) {
  return 3 * x + 1;
}
