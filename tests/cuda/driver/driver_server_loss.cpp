// Keeps the server busy with copies and synchronisations until a call fails, which the test
// causes by killing the server after "READY". Prints "ERROR <name>" and exits 0 when a call returns
// a CUDA error; exits 1 only if the loop ends without one (it never should).
#include <cstdio>

#include "check.h"

int main() {
  drv::Start();
  const std::size_t n = 8u << 20;
  CUdeviceptr d = 0;
  if (!CU_OK(cuMemAlloc(&d, n))) return 1;
  std::vector<unsigned char> host(n, 5);
  for (long i = 0; i < 100000000; ++i) {
    CUresult r = cuMemcpyHtoD(d, host.data(), n);
    if (r == CUDA_SUCCESS) r = cuMemcpyDtoH(host.data(), d, n);
    if (r == CUDA_SUCCESS) r = cuCtxSynchronize();
    if (r != CUDA_SUCCESS) {
      std::printf("ERROR %s\n", drv::Name(r));
      std::fflush(stdout);
      return 0;
    }
    if (i == 0) {
      std::printf("READY\n");
      std::fflush(stdout);
    }
  }
  return 1;
}
