// Parsing and printing of the quantities users type: sizes ("16GiB"), percents ("50"), durations;
// and times as the Kubernetes API writes them.
// Every parser rejects what it does not fully understand with a message that names the input.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool {

// "1073741824", "1GiB", "1Gi", "512MiB", "1.5GiB", "16G" (SI: 10^9), "64KiB", "0". Case of the unit
// is ignored; whitespace is not allowed. Overflowing values are an error.
Result<std::uint64_t> ParseSize(std::string_view text);
// 1536 -> "1.5 KiB"; exact multiples print without decimals ("16 GiB").
std::string FormatBytes(std::uint64_t bytes);
// "1".."100" -> 1..100; anything else (0, 101, "50%", "x") is an error.
Result<int> ParsePercent(std::string_view text);
// "250ms", "5s", "2m", "1h" -> milliseconds.
Result<std::int64_t> ParseDurationMs(std::string_view text);
// RFC 3339 in UTC with whole seconds, as Kubernetes' metav1.Time writes it: "2026-01-01T00:00:00Z".
std::string FormatRfc3339(std::chrono::system_clock::time_point t);
// The same form back ("2026-01-01T00:00:00Z"); anything else is an error.
Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

}  // namespace gpupool
