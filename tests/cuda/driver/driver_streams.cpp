// Stream and event ordering: work on one stream waits for an event recorded on another; queries,
// elapsed time, priorities, flags, and context synchronisation.
#include <cstring>

#include "check.h"

int main() {
  drv::Start();
  CUstream a = nullptr, b = nullptr, high = nullptr;
  CU_OK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
  CU_OK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
  int least = 0, greatest = 0;
  CU_OK(cuCtxGetStreamPriorityRange(&least, &greatest));
  CHECK_TRUE(greatest <= least);
  CU_OK(cuStreamCreateWithPriority(&high, 0, greatest));
  int priority = 1;
  CU_OK(cuStreamGetPriority(high, &priority));
  CHECK_TRUE(priority == greatest);
  unsigned flags = 7;
  CU_OK(cuStreamGetFlags(a, &flags));
  CHECK_TRUE(flags == CU_STREAM_NON_BLOCKING);

  const std::size_t n = 3u << 20;
  CUdeviceptr x = 0, y = 0;
  CU_OK(cuMemAlloc(&x, n));
  CU_OK(cuMemAlloc(&y, n));
  CUevent written = nullptr, start = nullptr, stop = nullptr;
  CU_OK(cuEventCreate(&written, CU_EVENT_DISABLE_TIMING));
  CU_OK(cuEventCreate(&start, 0));
  CU_OK(cuEventCreate(&stop, 0));
  const auto data = drv::RandomBytes(n, 3);
  // a: start, upload, memset a prefix, record; b: wait, copy x -> y; read y back on b.
  CU_OK(cuEventRecord(start, a));
  CU_OK(cuMemcpyHtoDAsync(x, data.data(), n, a));
  CU_OK(cuMemsetD8Async(x, 0x42, 100, a));
  CU_OK(cuEventRecord(written, a));
  CU_OK(cuEventRecord(stop, a));
  CU_OK(cuStreamWaitEvent(b, written, 0));
  CU_OK(cuMemcpyDtoDAsync(y, x, n, b));
  std::vector<unsigned char> back(n, 0);
  CU_OK(cuMemcpyDtoHAsync(back.data(), y, n, b));
  CU_OK(cuStreamSynchronize(b));
  auto want = data;
  std::memset(want.data(), 0x42, 100);
  CHECK_TRUE(back == want);
  CU_OK(cuEventSynchronize(stop));
  CU_OK(cuEventQuery(stop));
  CU_OK(cuStreamQuery(a));
  float ms = -1;
  CU_OK(cuEventElapsedTime(&ms, start, stop));
  CHECK_TRUE(ms >= 0);
  CU_EXPECT(cuEventElapsedTime(&ms, start, written), CUDA_ERROR_INVALID_HANDLE);  // timing disabled
  // The legacy NULL stream orders against blocking streams; a context sync drains everything.
  CU_OK(cuMemsetD32(y, 0x01010101, n / 4));
  CU_OK(cuCtxSynchronize());
  CU_OK(cuMemcpyDtoH(back.data(), y, 16));
  CHECK_TRUE(back[0] == 1 && back[15] == 1);

  for (CUevent e : {written, start, stop}) CU_OK(cuEventDestroy(e));
  for (CUstream s : {a, b, high}) CU_OK(cuStreamDestroy(s));
  CU_OK(cuMemFree(x));
  CU_OK(cuMemFree(y));
  return drv::Verdict("driver_streams");
}
