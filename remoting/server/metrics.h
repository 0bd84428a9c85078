// The broker's `--metrics-listen HOST:PORT` endpoint: GET /metrics answers with what `render`
// produces (metrics_render.h). A tiny HTTP/1.0 responder: one short-lived connection at a time, each
// with a 2 s deadline, so a slow scraper cannot hold it.
//
// Thread-safety: MetricsServer runs its own thread; `render` is called from it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/endpoint.h"
#include "remoting/protocol/transport.h"

namespace gpupool::server {

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
