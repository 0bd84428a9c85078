#include "remoting/server/metrics.h"

#include <sys/socket.h>

#include <string>

namespace gpupool::server {

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const Endpoint& endpoint,
                                                            std::function<std::string()> render) {
  GPUPOOL_ASSIGN_OR_RETURN(protocol::Listener listener, protocol::Listener::Listen(endpoint));
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(listener), std::move(render)));
  std::thread([s = server.get()] { s->Serve(); }).detach();  // lives as long as the process
  return server;
}

void MetricsServer::Serve() {
  while (true) {
    auto conn = listener_.Accept();
    if (!conn.ok()) continue;
    (void)conn->SetReceiveTimeout(std::chrono::milliseconds(2000));
    // Read the request head (at most 8 KiB); only GET /metrics (or /) is served.
    std::string request;
    char buf[1024];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
      ssize_t n = ::recv(conn->fd(), buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<std::size_t>(n));
    }
    bool ok = request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET / ", 0) == 0;
    std::string body = ok ? render_() : "not found\n";
    std::string head =
        std::string(ok ? "HTTP/1.0 200 OK" : "HTTP/1.0 404 Not Found") +
        "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n";
    (void)::send(conn->fd(), head.data(), head.size(), MSG_NOSIGNAL);
    (void)::send(conn->fd(), body.data(), body.size(), MSG_NOSIGNAL);
  }
}

}  // namespace gpupool::server
