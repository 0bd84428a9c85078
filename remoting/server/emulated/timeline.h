// Simulated device time: how long the emulated device's streams stay busy.
//
// Kernels are not executed, but with --emulated-kernel-time each launch occupies its device for that
// long, so that what depends on kernel time (share enforcement, the hang watchdog, busy-time metrics,
// event timing) can be exercised without a GPU. The model: a simulated kernel fills its GPU, so the
// kernels of one device run one at a time in launch order, each starting when its stream's earlier
// work and the device's previous kernel are done; copies, memsets and event records take no time
// but complete in stream order. The legacy default stream waits for (and is waited for by) the
// context's blocking streams, as in CUDA. Synchronising calls really wait until the simulated
// completion time, queries answer CUDA_ERROR_NOT_READY before it, and events read it as their time.
// With the default kernel time of 0 every operation completes when it is enqueued.
//
// The timeline is per worker process: sessions on one emulated GPU do not slow each other down
// (each worker has its own emulated device); contention between sessions is the share limiter's
// business, not the emulator's.
//
// Thread-safety: all functions except SleepUntilNs expect GetState().mu held; SleepUntilNs must be
// called without it.
#pragma once

#include <cuda.h>

#include <cstdint>

#include "remoting/server/emulated/state.h"

namespace gpupool::server::emulated {

std::uint64_t MonotonicNs();
// When everything enqueued so far on `stream` (null, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD or a
// created stream) of `ctx` completes; never earlier than now.
std::uint64_t StreamDoneNs(Context* ctx, CUstream stream);
// Enqueues `duration_ns` of work on `stream` (a kernel: it also occupies the device); returns when
// it ends.
std::uint64_t Enqueue(Context* ctx, CUstream stream, std::uint64_t duration_ns, bool kernel);
// Later work on `stream` waits until `t` (cuStreamWaitEvent).
void StreamWaitUntil(Context* ctx, CUstream stream, std::uint64_t t);
// `stream` is being destroyed: cuCtxSynchronize still waits for its work.
void RetireStream(Context* ctx, CUstream stream);
// When every stream of `ctx` is done (cuCtxSynchronize).
std::uint64_t ContextDoneNs(Context* ctx);
// Blocks the calling thread until the monotonic clock reaches `t` (the simulated work is done).
void SleepUntilNs(std::uint64_t t);

}  // namespace gpupool::server::emulated
