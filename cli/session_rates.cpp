#include "cli/session_rates.h"

namespace gpupool::cli {
namespace {

bool CountersMovedForward(const control::v1::Session& before, const control::v1::Session& now) {
  return now.kernels_launched() >= before.kernels_launched() &&
         now.bytes_to_device() >= before.bytes_to_device() &&
         now.bytes_from_device() >= before.bytes_from_device() &&
         now.gpu_busy_seconds() >= before.gpu_busy_seconds();
}

}  // namespace

SessionRates RatesOf(const control::v1::Session* before, const control::v1::Session& now,
                     double window_seconds, std::int64_t now_unix_ms) {
  SessionRates r;
  double kernels = static_cast<double>(now.kernels_launched());
  double to_device = static_cast<double>(now.bytes_to_device());
  double from_device = static_cast<double>(now.bytes_from_device());
  double busy = now.gpu_busy_seconds();
  if (before != nullptr && window_seconds > 0 && CountersMovedForward(*before, now)) {
    r.window_seconds = window_seconds;
    kernels -= static_cast<double>(before->kernels_launched());
    to_device -= static_cast<double>(before->bytes_to_device());
    from_device -= static_cast<double>(before->bytes_from_device());
    busy -= before->gpu_busy_seconds();
  } else {
    r.since_start = true;
    r.window_seconds = static_cast<double>(now_unix_ms - now.started_unix_ms()) / 1000.0;
  }
  // A session younger than a millisecond (or a clock step) has no meaningful rate yet.
  if (r.window_seconds < 0.001) {
    r.window_seconds = 0;
    return r;
  }
  r.kernels_per_second = kernels / r.window_seconds;
  r.bytes_to_device_per_second = to_device / r.window_seconds;
  r.bytes_from_device_per_second = from_device / r.window_seconds;
  r.busy_fraction = busy / r.window_seconds;
  return r;
}

std::string FormatAge(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  const std::int64_t d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60,
                     s = seconds % 60;
  if (d > 0) return std::to_string(d) + "d" + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h" + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m" + std::to_string(s) + "s";
  return std::to_string(s) + "s";
}

}  // namespace gpupool::cli
