// Placement policies: which GPUs of a pool a request lands on.
//
// binpack (default) fills the fullest GPU that fits, so whole GPUs stay free for large requests;
// spread picks the emptiest, so load spreads. A multi-GPU request gets GPUs of one server (the one
// whose GPUs best match the policy), never a mix: a process's GPUs are those its one session sees.
// Ties break by server and UUID, so a placement is deterministic.
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gpupool::placement {

enum class Policy { kBinpack, kSpread };

// "binpack" or "spread" (empty: binpack); anything else is InvalidArgument.
Result<Policy> ParsePolicy(std::string_view name);
std::string_view PolicyName(Policy policy);

// One GPU as placement sees it: what is still free on it.
struct Candidate {
  std::string server;
  std::string uuid;
  int free_percent = 0;
  std::uint64_t free_memory_bytes = 0;
  std::uint64_t need_memory_bytes = 0;  // what the request needs on this GPU
};

// Indices into `fitting` (every entry already fits the request) of `count` GPUs of one server, or
// empty when no server has `count` that fit.
std::vector<std::size_t> Choose(const std::vector<Candidate>& fitting, int count, Policy policy);

}  // namespace gpupool::placement
