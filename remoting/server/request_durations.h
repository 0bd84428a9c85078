// RequestDurations: how long the worker took to answer synchronous requests (receipt of the frame to
// the reply sent), as histogram buckets per call class, in the session's shared SessionStats. The
// class is the opcode's high byte — driver_calls.def groups calls by it (device, context, memory,
// copy, memset, stream, module, launch) — so the label has a handful of values, not one per call.
//
// Thread-safety: the worker writes, the broker reads; every field is atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>

namespace gpupool::server {

inline constexpr std::size_t kCallClasses = 10;  // opcode high byte 1..9; 0 holds nothing
// Bucket upper bounds in seconds; one more bucket (+Inf) follows.
inline constexpr double kDurationBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
inline constexpr std::size_t kDurationBuckets = std::size(kDurationBounds) + 1;

// The class of an opcode (0 for one outside the driver-call ranges) and its label value.
std::size_t CallClass(std::uint16_t opcode);
const char* CallClassName(std::size_t call_class);
// Whether any call of the class gets a reply (memsets, for one, never do: nothing to time).
bool CallClassAnswers(std::size_t call_class);

struct RequestDurations {
  std::atomic<std::uint64_t> buckets[kCallClasses][kDurationBuckets] = {};  // per bucket, not cumulative
  std::atomic<std::uint64_t> sum_ns[kCallClasses] = {};

  void Observe(std::uint16_t opcode, std::chrono::nanoseconds took);
};

}  // namespace gpupool::server
