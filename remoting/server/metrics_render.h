// RenderMetrics: the broker's /metrics page (Prometheus text, all names prefixed `gpupool_`), built
// per scrape from the Registry — live sessions' shared counters, what ended sessions left, the
// broker's own event counters — and the inventory. Names, labels and meaning are the contract of
// docs/operations.md ("gpupool-server") and the chart's Grafana dashboard.
//
// Thread-safety: reads the thread-safe Registry; callable from any thread.
#pragma once

#include <string>
#include <vector>

#include "remoting/server/inventory.h"
#include "remoting/server/registry.h"

namespace gpupool::server {

struct ServerIdentity {
  std::string version;
  std::string device_kind;  // "cuda" or "emulated"
  std::string server_id;    // as the Control API's Inventory reports it
};

// `gpus` from the inventory (empty when it failed); sessions without an admitted GPU run on the first.
std::string RenderMetrics(const Registry& registry, const ServerIdentity& server,
                          const std::vector<GpuInfo>& gpus);

}  // namespace gpupool::server
