// Simulated device time (timeline.h).
#include "remoting/server/emulated/timeline.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace gpupool::server::emulated {
namespace {

bool IsLegacy(CUstream stream) {
  return stream == nullptr || stream == CU_STREAM_LEGACY;
}

// The created stream behind a handle, or nullptr for the default streams (and unknown handles,
// which callers have already rejected with CheckStream).
Stream* Created(CUstream stream) {
  if (IsLegacy(stream) || stream == CU_STREAM_PER_THREAD) return nullptr;
  auto& streams = GetState().streams;
  auto it = streams.find(stream);
  return it == streams.end() ? nullptr : it->second.get();
}

// The completion time a stream keeps for itself (without the legacy stream's implicit waits).
std::uint64_t* OwnDone(Context* ctx, CUstream stream) {
  if (IsLegacy(stream)) return &ctx->legacy_done_ns;
  if (stream == CU_STREAM_PER_THREAD) return &ctx->per_thread_done_ns;
  Stream* s = Created(stream);
  return s != nullptr ? &s->done_ns : &ctx->legacy_done_ns;
}

bool Blocking(CUstream stream) {
  Stream* s = Created(stream);
  return s == nullptr || (s->flags & CU_STREAM_NON_BLOCKING) == 0;
}

// The latest completion among the context's blocking streams (what the legacy stream waits for).
std::uint64_t BlockingDone(Context* ctx) {
  std::uint64_t t = std::max(ctx->legacy_done_ns, ctx->per_thread_done_ns);
  for (const auto& [handle, s] : GetState().streams) {
    if (s->ctx == ctx && (s->flags & CU_STREAM_NON_BLOCKING) == 0) t = std::max(t, s->done_ns);
  }
  return t;
}

}  // namespace

std::uint64_t MonotonicNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::uint64_t StreamDoneNs(Context* ctx, CUstream stream) {
  std::uint64_t t = *OwnDone(ctx, stream);
  if (IsLegacy(stream)) {
    t = BlockingDone(ctx);
  } else if (Blocking(stream)) {
    t = std::max(t, ctx->legacy_done_ns);  // a blocking stream waits for the legacy stream's work
  }
  return std::max(t, MonotonicNs());
}

std::uint64_t Enqueue(Context* ctx, CUstream stream, std::uint64_t duration_ns, bool kernel) {
  std::uint64_t start = StreamDoneNs(ctx, stream);
  Device* device = nullptr;
  if (kernel && ctx->device >= 0 && static_cast<std::size_t>(ctx->device) < GetState().devices.size()) {
    device = &GetState().devices[static_cast<std::size_t>(ctx->device)];
    start = std::max(start, device->busy_until_ns);
  }
  const std::uint64_t end = start + duration_ns;
  *OwnDone(ctx, stream) = end;
  if (device != nullptr && duration_ns > 0) device->busy_until_ns = end;
  return end;
}

void StreamWaitUntil(Context* ctx, CUstream stream, std::uint64_t t) {
  std::uint64_t* done = OwnDone(ctx, stream);
  *done = std::max(*done, t);
}

void RetireStream(Context* ctx, CUstream stream) {
  ctx->destroyed_done_ns = std::max(ctx->destroyed_done_ns, *OwnDone(ctx, stream));
}

std::uint64_t ContextDoneNs(Context* ctx) {
  std::uint64_t t = std::max(BlockingDone(ctx), ctx->destroyed_done_ns);
  for (const auto& [handle, s] : GetState().streams) {
    if (s->ctx == ctx) t = std::max(t, s->done_ns);
  }
  return std::max(t, MonotonicNs());
}

void SleepUntilNs(std::uint64_t t) {
  // The emulated GPU is "running" until t: the caller waits as it would on a real device.
  const std::uint64_t now = MonotonicNs();
  if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
}

}  // namespace gpupool::server::emulated
