// One frame of `gpupool top`: the live sessions of every server asked, as a table for people or a JSON
// object for scripts, with rates computed against the previous frame (cli/session_rates.h).
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/control_client.h"

namespace gpupool::cli {

struct TopSample {
  std::int64_t unix_ms = 0;  // when the replies arrived
  std::vector<ServerReport> reports;
};

// `before` is the previous frame's sample, or null for the first frame.
std::string TopTable(const TopSample& now, const TopSample* before);
nlohmann::json TopJson(const TopSample& now, const TopSample* before);

}  // namespace gpupool::cli
