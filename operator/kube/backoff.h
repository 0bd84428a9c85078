// Backoff: exponential delays with jitter and a cap, shared by the informer's restart loop, the
// conflict-retry helper and the REST client.
//
// Delay(n) for the n-th consecutive failure (n >= 0) = min(cap, initial * factor^n), then stretched
// by a random factor in [1, 1 + jitter) (client-go's wait.Jitter). Thread-safety: values; Delay()
// uses a thread-local random engine.
#pragma once

#include <chrono>

namespace gpupool::kube {

struct Backoff {
  std::chrono::milliseconds initial{std::chrono::milliseconds(800)};
  double factor = 2.0;
  std::chrono::milliseconds cap{std::chrono::seconds(30)};
  double jitter = 1.0;
  int steps = 0;  // RetryOnConflict: attempts allowed; 0 = unlimited (informer)

  std::chrono::milliseconds Delay(int failures) const;
};

// client-go's reflector backoff: 800 ms, x2, capped at 30 s, jitter 1.0.
inline constexpr Backoff kInformerBackoff{};
// client-go's retry.DefaultRetry: 5 attempts, 10 ms apart, jitter 0.1.
inline constexpr Backoff kDefaultRetry{std::chrono::milliseconds(10), 1.0, std::chrono::seconds(1), 0.1, 5};

}  // namespace gpupool::kube
