// HealthNotices: the Events a change of GPU health calls for (docs/operator.md "Events"). On the
// pool: one per server that failed (ServerUnreachable) or answers again (ServerRecovered), one per
// GPU its server reports unhealthy (GPUUnhealthy) or healthy again (GPUHealthy), each naming the
// pods concerned. On every pod holding a share of such a GPU: GPULost, saying which GPU, on which
// server and why, or GPURecovered.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <vector>

#include "common/binding/binding.h"
#include "operator/controllers/pool_status.h"
#include "operator/placement/ledger.h"

namespace gpupool::controllers {

struct Notice {
  bool on_pod = false;    // else on the pool
  placement::PodRef pod;  // when on_pod
  std::string type, reason, message;
};

struct ShareHolder {
  placement::PodRef pod;
  Binding binding;
};

// Compares GPU health before and after a probe (GPUs present in both); `probes` say why a GPU's
// health changed, `holders` who held shares of it.
std::vector<Notice> HealthNotices(const std::vector<placement::GpuUsage>& before,
                                  const std::vector<placement::GpuUsage>& after,
                                  const std::vector<ServerProbe>& probes,
                                  const std::vector<ShareHolder>& holders);

}  // namespace gpupool::controllers
