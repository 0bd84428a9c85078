// Prometheus metrics of the broker (`--metrics-listen HOST:PORT`, GET /metrics), all prefixed
// `gpupool_`: live sessions, memory used and limit per session and per GPU, bytes moved, kernels
// launched and CUDA errors (live sessions plus those that ended). A tiny HTTP/1.0 responder: one
// short-lived connection at a time, each with a 2 s deadline, so a slow scraper cannot hold it.
//
// Thread-safety: RenderMetrics reads the thread-safe Registry; MetricsServer runs its own thread.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "common/endpoint.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/registry.h"

namespace gpupool::server {

// `gpu_memory` maps GPU uuid -> total bytes (from the inventory, when known); `default_gpu` is the
// uuid sessions without an admitted GPU run on.
std::string RenderMetrics(const Registry& registry, const std::map<std::string, std::uint64_t>& gpu_memory,
                          const std::string& default_gpu);

class MetricsServer {
 public:
  // Listens on `endpoint`; `render` produces the body of each response.
  static Result<std::unique_ptr<MetricsServer>> Start(const Endpoint& endpoint,
                                                      std::function<std::string()> render);
  const Endpoint& endpoint() const { return listener_.endpoint(); }

 private:
  MetricsServer(protocol::Listener listener, std::function<std::string()> render)
      : listener_(std::move(listener)), render_(std::move(render)) {}
  void Serve();

  protocol::Listener listener_;
  std::function<std::string()> render_;
};

}  // namespace gpupool::server
