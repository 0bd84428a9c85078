// The pod mutation of the admission webhook (ARCHITECTURE §4.2 step 1), as pure functions.
//
// For a pod that asks for gpupool resources (operator/placement/request.h) the patch adds:
// - the scheduling gate gpupool.io/binding (the binder removes it once the pod is bound);
// - one projected volume "gpupool" mounted read-only at /etc/gpupool in every asking container,
//   holding pod/annotations (downward API: metadata.annotations, where the binding appears) and
//   token (service-account token, audience gpupool.io). One projected volume gives both files
//   their documented paths without subPath mounts, which kubelet would never refresh;
// - env GPUPOOL_POD_INFO=/etc/gpupool/pod/annotations in every asking container.
// Each addition is skipped when present, so the webhook is idempotent on re-invocation.
// Impossible requests are refused with a message that says why (see Mutate).
//
// Thread-safety: pure functions; PoolCatalog implementations must be thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/status.h"

namespace gpupool::webhook {

inline constexpr std::string_view kVolumeName = "gpupool";
inline constexpr std::string_view kMountPath = "/etc/gpupool";
inline constexpr std::int64_t kTokenExpirationSeconds = 3600;

// What the webhook knows about pools (from GPUPool status, possibly stale).
class PoolCatalog {
 public:
  virtual ~PoolCatalog() = default;
  // Memory of the pool's largest GPU: NotFound when the pool does not exist, nullopt when its
  // inventory is not known yet (then nothing is refused for memory). "" names the default pool.
  virtual Result<std::optional<std::uint64_t>> LargestGpuMemory(const std::string& pool) const = 0;
};

// The JSONPatch (RFC 6902 array, possibly empty) for `pod`; InvalidArgument with the reason for a
// request that can never be bound.
Result<nlohmann::json> Mutate(const nlohmann::json& pod, const PoolCatalog& pools);

// A whole AdmissionReview v1 answer for an AdmissionReview v1 request: allowed with a base64
// JSONPatch, allowed unchanged (not a pod CREATE, or no gpupool resources), or refused (HTTP code 400
// in response.status, the reason in its message). InvalidArgument when `review` is not an
// AdmissionReview v1 request at all.
Result<nlohmann::json> Review(const nlohmann::json& review, const PoolCatalog& pools);

}  // namespace gpupool::webhook
