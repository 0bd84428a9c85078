// Rates `gpupool top` shows for a session (kernels, bytes each way, GPU busy time per second), from two
// samples of its cumulative counters, or from one sample averaged over the session's age.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "gpupool/control/v1/control.pb.h"

namespace gpupool::cli {

struct SessionRates {
  double window_seconds = 0;  // what the rates are averaged over
  bool since_start = false;   // true: averaged over the session's whole life (no earlier sample)
  double kernels_per_second = 0;
  double bytes_to_device_per_second = 0;
  double bytes_from_device_per_second = 0;
  double busy_fraction = 0;  // GPU busy seconds per second, 0..1 for a session on one GPU
};

// Rates of `now` since `before`, the same session sampled `window_seconds` earlier. With no `before`,
// a non-positive window, or counters that went backwards (a different session under a reused id), the
// rates are averages since the session started, measured at `now_unix_ms`.
SessionRates RatesOf(const control::v1::Session* before, const control::v1::Session& now,
                     double window_seconds, std::int64_t now_unix_ms);

// 0 -> "0s", 75 -> "1m15s", 7260 -> "2h1m", 200000 -> "2d7h".
std::string FormatAge(std::int64_t seconds);

}  // namespace gpupool::cli
