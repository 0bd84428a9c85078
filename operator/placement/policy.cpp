#include "operator/placement/policy.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace gpupool::placement {

Result<Policy> ParsePolicy(std::string_view name) {
  if (name.empty() || name == "binpack") return Policy::kBinpack;
  if (name == "spread") return Policy::kSpread;
  return Status::InvalidArgument("policy \"" + std::string(name) + "\" is not binpack or spread");
}

std::string_view PolicyName(Policy policy) {
  return policy == Policy::kSpread ? "spread" : "binpack";
}

std::vector<std::size_t> Choose(const std::vector<Candidate>& fitting, int count, Policy policy) {
  if (count <= 0 || fitting.size() < static_cast<std::size_t>(count)) return {};
  // Order by preference: binpack wants the least free share first, spread the most.
  std::vector<std::size_t> order(fitting.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](std::size_t i) {
    const Candidate& c = fitting[i];
    const int free = policy == Policy::kBinpack ? c.free_percent : -c.free_percent;
    return std::tuple<int, const std::string&, const std::string&>(free, c.server, c.uuid);
  };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  if (count == 1) return {order.front()};

  // Several GPUs: the best `count` GPUs of a single server, judged by the sum of their free share.
  std::map<std::string, std::vector<std::size_t>> by_server;
  for (std::size_t i : order) by_server[fitting[i].server].push_back(i);
  const std::vector<std::size_t>* best = nullptr;
  long best_score = 0;
  for (const auto& [server, list] : by_server) {
    if (list.size() < static_cast<std::size_t>(count)) continue;
    long score = 0;
    for (int k = 0; k < count; ++k) score += fitting[list[static_cast<std::size_t>(k)]].free_percent;
    if (policy == Policy::kSpread) score = -score;
    if (best == nullptr || score < best_score) {
      best = &list;
      best_score = score;
    }
  }
  // A process sees the GPUs of one server (its session's worker opens them all), as a pod's GPUs
  // come from one node: no server with `count` fitting GPUs means no placement.
  if (best == nullptr) return {};
  return {best->begin(), best->begin() + count};
}

}  // namespace gpupool::placement
