#include "operator/kube/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace gpupool::kube {

std::chrono::milliseconds Backoff::Delay(int failures) const {
  double base = static_cast<double>(initial.count()) * std::pow(factor, std::max(0, std::min(failures, 60)));
  base = std::min(base, static_cast<double>(cap.count()));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double stretch = jitter > 0 ? std::uniform_real_distribution<double>(0.0, jitter)(rng) : 0.0;
  return std::chrono::milliseconds(static_cast<long long>(base * (1.0 + stretch)));
}

}  // namespace gpupool::kube
