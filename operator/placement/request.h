// What a pod asks of a pool: how many GPUs, what compute share and how much memory of each.
//
// Read from the pod's containers' limits or requests for gpupool.io/gpu, gpupool.io/gpu-percent and
// gpupool.io/gpu-memory (ARCHITECTURE §4.1). One binding serves the whole pod, so when several
// containers ask, the pod gets the largest of each value (containers share the pod's GPUs).
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "common/status.h"

namespace gpupool::placement {

struct Request {
  int gpus = 1;                             // number of GPUs, >= 1
  int percent = 100;                        // compute share of each GPU, 1..100
  std::optional<std::uint64_t> memory_gib;  // device memory of each GPU; unset: percent × GPU memory
  // gpupool.io/locality: node: only GPUs of servers on a known node (the pod is pinned there), and
  // when the pod already names its node (spec.nodeSelector kubernetes.io/hostname), that node's.
  bool node_local = false;
  std::string pinned_node;

  friend bool operator==(const Request&, const Request&) = default;
};

// Memory one GPU of `gpu_memory_bytes` gives this request.
std::uint64_t MemoryOnGpu(const Request& request, std::uint64_t gpu_memory_bytes);

// The request of a pod (a v1 Pod object), or nullopt when no container asks for a gpupool resource.
// InvalidArgument, naming the container and resource, for values that cannot be honoured anywhere:
// non-integer quantities, percent outside 1..100, a GPU count of 0 with a percent or memory, a
// gpupool.io/locality annotation other than "node" or "any".
Result<std::optional<Request>> RequestFromPod(const nlohmann::json& pod);

// The pool a pod names (annotation gpupool.io/pool), or empty for the default pool.
std::string PoolOfPod(const nlohmann::json& pod);

}  // namespace gpupool::placement
