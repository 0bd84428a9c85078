#include "remoting/server/metrics.h"

#include <sys/socket.h>

#include <map>
#include <sstream>

namespace gpupool::server {
namespace {

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Header(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

}  // namespace

std::string RenderMetrics(const Registry& registry, const std::map<std::string, std::uint64_t>& gpu_memory,
                          const std::string& default_gpu) {
  std::vector<SessionRecord> sessions = registry.Sessions();
  EndedTotals ended = registry.ended();
  std::ostringstream out;
  Header(out, "gpupool_sessions", "gauge", "Live client sessions.");
  out << "gpupool_sessions " << sessions.size() << '\n';
  Header(out, "gpupool_sessions_ended_total", "counter", "Sessions that have ended.");
  out << "gpupool_sessions_ended_total " << ended.sessions << '\n';

  std::map<std::string, std::uint64_t> gpu_used;
  EndedTotals live;
  Header(out, "gpupool_session_memory_used_bytes", "gauge", "Device memory a session has allocated.");
  std::ostringstream limits;
  for (const SessionRecord& s : sessions) {
    const SessionStats& st = *s.stats->get();
    std::string gpu = s.gpu_uuid.empty() ? default_gpu : s.gpu_uuid;
    std::string labels = "{session=\"" + std::to_string(s.id) + "\",pod_uid=\"" + Escape(s.pod_uid) +
                         "\",process=\"" + Escape(s.process) + "\",gpu=\"" + Escape(gpu) + "\"}";
    out << "gpupool_session_memory_used_bytes" << labels << ' ' << st.memory_used_bytes << '\n';
    limits << "gpupool_session_memory_limit_bytes" << labels << ' ' << st.memory_limit_bytes << '\n';
    gpu_used[gpu] += st.memory_used_bytes;
    live.bytes_to_device += st.bytes_to_device;
    live.bytes_from_device += st.bytes_from_device;
    live.kernels_launched += st.kernels_launched;
    live.errors += st.errors;
  }
  Header(out, "gpupool_session_memory_limit_bytes", "gauge", "A session's memory limit (0: none).");
  out << limits.str();
  Header(out, "gpupool_gpu_memory_used_bytes", "gauge", "Device memory allocated by all sessions on a GPU.");
  for (const auto& [gpu, total] : gpu_memory) gpu_used.emplace(gpu, 0);
  for (const auto& [gpu, used] : gpu_used)
    out << "gpupool_gpu_memory_used_bytes{gpu=\"" << Escape(gpu) << "\"} " << used << '\n';
  Header(out, "gpupool_gpu_memory_total_bytes", "gauge", "A GPU's device memory.");
  for (const auto& [gpu, total] : gpu_memory) {
    out << "gpupool_gpu_memory_total_bytes{gpu=\"" << Escape(gpu) << "\"} " << total << '\n';
  }
  Header(out, "gpupool_bytes_to_device_total", "counter", "Bytes copied from clients to devices.");
  out << "gpupool_bytes_to_device_total " << ended.bytes_to_device + live.bytes_to_device << '\n';
  Header(out, "gpupool_bytes_from_device_total", "counter", "Bytes copied from devices to clients.");
  out << "gpupool_bytes_from_device_total " << ended.bytes_from_device + live.bytes_from_device << '\n';
  Header(out, "gpupool_kernels_launched_total", "counter", "Kernel launches forwarded.");
  out << "gpupool_kernels_launched_total " << ended.kernels_launched + live.kernels_launched << '\n';
  Header(out, "gpupool_errors_total", "counter", "Driver calls that returned a CUDA error.");
  out << "gpupool_errors_total " << ended.errors + live.errors << '\n';
  return out.str();
}

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
