// Pure parts of the pool controller: reading a GPUPool's spec, turning server probes into the
// pool's GPU list, and writing GPUPool.status (ARCHITECTURE §4.4, crds/gpupool.io_gpupools.yaml).
//
// GPUs of a server that stopped answering stay in the list (from the last published status): as
// published while it is within its grace period (ServerHealth), then unhealthy: their claims keep
// counting and nothing new lands on them.
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "gpupool/control/v1/control.pb.h"
#include "operator/placement/ledger.h"

namespace gpupool::controllers {

struct PoolServer {
  std::string address;  // data address (what bindings name)
  std::string control;  // Control API address
  // The kubernetes.io/hostname of its node (spec.servers[].node, or the node serverSelector found it
  // on); "" when not known. Pods with gpupool.io/locality: node are pinned there.
  std::string node;
};

struct PoolSpec {
  std::string name;
  placement::Policy policy = placement::Policy::kBinpack;
  bool is_default = false;
  std::vector<PoolServer> servers;
  long long generation = 0;
  // spec.serverSelector as a label selector ("" when absent), and the ports of servers found by it.
  std::string node_selector;
  bool has_node_selector = false;
  int server_port = 7470;
  int control_port = 0;  // 0: server_port + 1
};

// InvalidArgument naming the field for what the CRD schema would have refused.
Result<PoolSpec> ParsePoolSpec(const nlohmann::json& pool);

// "a=b,c in (x,y),!d" from a LabelSelector object (matchLabels, matchExpressions).
std::string LabelSelectorString(const nlohmann::json& selector);

// The servers on `nodes` (their InternalIP, else the first address) not already in spec.servers, with
// each node's kubernetes.io/hostname label (else its name).
std::vector<PoolServer> ServersOnNodes(const PoolSpec& spec, const nlohmann::json& nodes);

struct ServerProbe {
  PoolServer server;
  bool reachable = false;
  std::string message;  // why unreachable
  control::v1::Inventory inventory;
  // ServerHealth's verdict on an unreachable server: failed (its GPUs are unhealthy) and since when
  // it has been silent; `recovered` on a reachable one that had failed.
  bool failed = false;
  bool recovered = false;
  std::string since;
};

std::vector<placement::PoolGpu> PoolGpus(const std::vector<ServerProbe>& probes,
                                         const nlohmann::json& old_status);

struct Pending {
  int pods = 0;
  std::vector<std::string> examples;  // a few "ns/name"
  std::string reason;                 // the last placement error
};

// The new status object. `old_status` provides lastTransitionTime of unchanged conditions and GPUs.
// Per server: reachable (answered the last probe), healthy (not failed), unreachableSince; per GPU:
// healthy, message (why not), lastTransitionTime (of healthy). Degraded names failed servers and
// GPUs their servers report unhealthy.
nlohmann::json BuildPoolStatus(const PoolSpec& spec, const std::vector<ServerProbe>& probes,
                               const std::vector<placement::GpuUsage>& usage, const Pending& pending,
                               const nlohmann::json& old_status, const std::string& now);

// "a, b, c"; past `limit` items, "a, b and 1 more".
std::string JoinList(const std::vector<std::string>& items, std::size_t limit = SIZE_MAX);

// Sets condition `type` in `conditions` (a JSON array), keeping lastTransitionTime when the status
// did not change.
void SetCondition(nlohmann::json& conditions, const nlohmann::json& old_conditions, const std::string& type,
                  bool status, const std::string& reason, const std::string& message, long long generation,
                  const std::string& now);

}  // namespace gpupool::controllers
