// Runs the real `gpupool` binary (build/bin/gpupool) the way a shell user would, for the CLI tests.
// GPUPOOL_SERVER(S) are removed from its environment unless a test sets them, so the developer's
// own settings never leak into a test.
//
// Thread-safety: functions are independent; each starts its own process.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace gpupool::testing {

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout, plus stderr when merged
};

inline constexpr std::chrono::seconds kCliTimeout{60};

// Starts `gpupool ARGS...` without waiting for it.
Subprocess StartGpupool(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {}, bool merge_stderr = true);
// Runs `gpupool ARGS...` to completion (failing the test if it does not end within kCliTimeout).
CliResult RunGpupool(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                     bool merge_stderr = true);

}  // namespace gpupool::testing
