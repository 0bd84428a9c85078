// Streams and events: flags, priorities, ids, host functions in stream order, and the documented
// results of event queries, synchronisation and elapsed times.
#include <chrono>
#include <thread>
#include <vector>

#include "tests/remoting/emulated/fixture.h"

namespace gpupool::server::emulated_test {

TEST_CASE("streams keep flags and clamped priorities and have distinct ids") {
  const DriverApi& api = Api();
  int least = 1, greatest = 1;
  CU_OK(api.cuCtxGetStreamPriorityRange(&least, &greatest));
  CHECK(least == 0);
  CHECK(greatest == -5);
  CUstream a = nullptr, b = nullptr;
  CU_OK(api.cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
  CU_OK(api.cuStreamCreateWithPriority(&b, CU_STREAM_DEFAULT, -100));
  unsigned flags = 99;
  CU_OK(api.cuStreamGetFlags(a, &flags));
  CHECK(flags == CU_STREAM_NON_BLOCKING);
  int priority = 1;
  CU_OK(api.cuStreamGetPriority(b, &priority));
  CHECK(priority == -5);
  unsigned long long ida = 0, idb = 0, legacy = 99, per_thread = 99;
  CU_OK(api.cuStreamGetId(a, &ida));
  CU_OK(api.cuStreamGetId(b, &idb));
  CU_OK(api.cuStreamGetId(CU_STREAM_LEGACY, &legacy));
  CU_OK(api.cuStreamGetId(CU_STREAM_PER_THREAD, &per_thread));
  CHECK(ida != idb);
  CHECK(legacy == 0);
  CHECK(per_thread == 1);
  CHECK(api.cuStreamCreate(&a, 0x80) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuStreamQuery(b));
  CU_OK(api.cuStreamSynchronize(nullptr));
  CU_OK(api.cuStreamDestroy_v2(a));
  CU_OK(api.cuStreamDestroy_v2(b));
  CHECK(api.cuStreamQuery(a) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(api.cuStreamDestroy_v2(b) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(api.cuStreamSynchronize(reinterpret_cast<CUstream>(0x1234)) == CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("host functions run in stream order, after the work enqueued before them") {
  const DriverApi& api = Api();
  CUstream stream = nullptr;
  CU_OK(api.cuStreamCreate(&stream, 0));
  CUdeviceptr p = 0;
  CU_OK(api.cuMemAlloc_v2(&p, 4));
  struct Probe {
    const DriverApi* api;
    CUdeviceptr p;
    std::vector<int> order;
    unsigned seen = 0;
  } probe{&api, p, {}, 0};
  CU_OK(api.cuMemsetD32Async(p, 7, 1, stream));
  CU_OK(api.cuLaunchHostFunc(
      stream,
      [](void* data) {
        auto* self = static_cast<Probe*>(data);
        self->order.push_back(1);
        // The memset before this function is complete when it runs.
        (void)self->api->cuMemcpyDtoH_v2(&self->seen, self->p, 4);
      },
      &probe));
  CU_OK(api.cuLaunchHostFunc(
      stream, [](void* data) { static_cast<Probe*>(data)->order.push_back(2); }, &probe));
  CU_OK(api.cuStreamSynchronize(stream));
  CHECK(probe.order == std::vector<int>{1, 2});
  CHECK(probe.seen == 7);
  CHECK(api.cuLaunchHostFunc(stream, nullptr, nullptr) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuMemFree_v2(p));
  CU_OK(api.cuStreamDestroy_v2(stream));
}

TEST_CASE("events: query, synchronize and elapsed time follow the driver's rules") {
  const DriverApi& api = Api();
  CUevent start = nullptr, end = nullptr, untimed = nullptr, never = nullptr;
  CU_OK(api.cuEventCreate(&start, CU_EVENT_DEFAULT));
  CU_OK(api.cuEventCreate(&end, CU_EVENT_BLOCKING_SYNC));
  CU_OK(api.cuEventCreate(&untimed, CU_EVENT_DISABLE_TIMING));
  CU_OK(api.cuEventCreate(&never, CU_EVENT_DEFAULT));
  float ms = -1;
  // Never recorded: query and synchronize succeed, elapsed time is an invalid handle.
  CU_OK(api.cuEventQuery(never));
  CU_OK(api.cuEventSynchronize(never));
  CHECK(api.cuEventElapsedTime_v2(&ms, never, never) == CUDA_ERROR_INVALID_HANDLE);

  CU_OK(api.cuEventRecord(start, nullptr));
  CHECK(api.cuEventElapsedTime_v2(&ms, start, never) == CUDA_ERROR_INVALID_HANDLE);
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(5)) {
    // a busy wait, so the events' clock readings differ by a known least amount
  }
  CU_OK(api.cuEventRecordWithFlags(end, CU_STREAM_PER_THREAD, CU_EVENT_RECORD_DEFAULT));
  CU_OK(api.cuEventQuery(end));
  CU_OK(api.cuEventSynchronize(end));
  CU_OK(api.cuEventElapsedTime_v2(&ms, start, end));
  CHECK(ms >= 5.0f);
  CHECK(ms < 5000.0f);
  CU_OK(api.cuEventElapsedTime_v2(&ms, end, start));
  CHECK(ms <= -5.0f);

  CU_OK(api.cuEventRecord(untimed, nullptr));
  CU_OK(api.cuEventQuery(untimed));
  CHECK(api.cuEventElapsedTime_v2(&ms, start, untimed) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(api.cuEventElapsedTime_v2(&ms, untimed, end) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(api.cuEventElapsedTime_v2(nullptr, start, end) == CUDA_ERROR_INVALID_VALUE);

  CUstream stream = nullptr;
  CU_OK(api.cuStreamCreate(&stream, 0));
  CU_OK(api.cuStreamWaitEvent(stream, end, 0));
  CU_OK(api.cuStreamWaitEvent(stream, never, 0));
  CHECK(api.cuStreamWaitEvent(stream, end, 0x100) == CUDA_ERROR_INVALID_VALUE);
  CU_OK(api.cuStreamDestroy_v2(stream));

  CHECK(api.cuEventCreate(&never, CU_EVENT_INTERPROCESS) == CUDA_ERROR_INVALID_VALUE);  // must disable timing
  for (CUevent e : {start, end, untimed, never}) CU_OK(api.cuEventDestroy_v2(e));
  CHECK(api.cuEventQuery(start) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(api.cuEventRecord(start, nullptr) == CUDA_ERROR_INVALID_HANDLE);
}

}  // namespace gpupool::server::emulated_test
