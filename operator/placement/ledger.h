// The ledger: which pod holds which share of which GPU, for every pool.
//
// The only copy that survives a crash is in Kubernetes (pod annotations gpupool.io/binding, pool
// inventories in GPUPool.status); the ledger is rebuilt from them at start (ARCHITECTURE §4.3).
// It never trusts a binding into double booking: Claim refuses a binding that names GPUs the pool
// does not have, that would overbook a GPU, or that differs from what the ledger already holds for
// that pod (a foreign edit of the annotation). The caller reports the refusal; the ledger is unchanged.
// Allocations are keyed by (server, uuid), so a GPU that leaves a pool's inventory keeps its claims
// and a server listed in two pools is never booked twice.
//
// Thread-safety: every method may be called from any thread (one internal mutex, never held while
// calling out).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/binding/binding.h"
#include "common/status.h"
#include "operator/placement/policy.h"
#include "operator/placement/request.h"

namespace gpupool::placement {

// A GPU of a pool, as its server reported it.
struct PoolGpu {
  std::string server;  // data address HOST:PORT, as in bindings
  std::string uuid;
  std::string model;
  std::uint64_t memory_bytes = 0;
  bool healthy = true;
  std::string node;  // the kubernetes.io/hostname of the server's node, "" when not known
};

struct PodRef {
  std::string ns, name, uid;
  std::string Key() const { return ns + "/" + name; }
};

struct GpuUsage {
  PoolGpu gpu;
  int allocated_percent = 0;
  std::uint64_t allocated_memory_bytes = 0;
  int pods = 0;
};

class Ledger {
 public:
  // Replaces a pool's policy and GPU inventory; claims are kept.
  void SetPool(const std::string& pool, Policy policy, bool is_default, std::vector<PoolGpu> gpus);
  void RemovePool(const std::string& pool);
  bool HasPool(const std::string& pool) const;
  // The pool marked default; NotFound when none is, FailedPrecondition when several are.
  Result<std::string> DefaultPool() const;

  // Records that `pod` holds `binding` (see the header comment for refusals: NotFound, Conflict,
  // FailedPrecondition). Claiming the identical binding again is OK.
  Status Claim(const PodRef& pod, const Binding& binding);
  // Forgets the pod's claim and returns it (nullopt when it held none).
  std::optional<Binding> Release(const std::string& uid);
  std::optional<Binding> Find(const std::string& uid) const;
  std::optional<PodRef> Holder(const std::string& uid) const;
  // The UID holding a claim for pod "ns/name" (a deleted pod's name may be reused by a new UID).
  std::optional<std::string> UidOfPod(const std::string& key) const;
  std::vector<std::string> Pods() const;  // UIDs with a claim

  // Chooses GPUs for `request` by the pool's policy without claiming them. ResourceExhausted (with
  // what is free) when nothing fits now; InvalidArgument when it can never fit this pool.
  // With request.node_local only GPUs whose node is known (and is request.pinned_node, when set).
  Result<Binding> Place(const std::string& pool, const Request& request) const;
  // The node of `server` in `pool` ("" when not known).
  std::string NodeOf(const std::string& pool, const std::string& server) const;

  std::vector<GpuUsage> Usage(const std::string& pool) const;

 private:
  struct GpuKey {
    std::string server, uuid;
    auto operator<=>(const GpuKey&) const = default;
  };
  struct Alloc {
    int percent = 0;
    std::uint64_t memory = 0;
    std::set<std::string> pods;  // UIDs
  };
  struct Pool {
    Policy policy = Policy::kBinpack;
    bool is_default = false;
    std::vector<PoolGpu> gpus;
  };
  struct Claimed {
    PodRef pod;
    Binding binding;
  };
  const PoolGpu* FindGpu(const Pool& pool, const GpuBinding& g) const;

  mutable std::mutex mu_;
  std::map<std::string, Pool> pools_;
  std::map<GpuKey, Alloc> allocs_;
  std::map<std::string, Claimed> claims_;      // by pod UID
  std::map<std::string, std::string> by_key_;  // "ns/name" -> UID
};

}  // namespace gpupool::placement
