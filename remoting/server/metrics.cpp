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

// Names and labels are the contract of docs/operations.md ("Metrics") and the chart's dashboard.
std::string RenderMetrics(const Registry& registry, const std::map<std::string, std::uint64_t>& gpu_memory,
                          const std::string& default_gpu) {
  std::vector<SessionRecord> sessions = registry.Sessions();
  EndedTotals ended = registry.ended();
  std::ostringstream out;

  // Per session: one labelled series each; sums per GPU and over all sessions on the way.
  std::map<std::string, std::uint64_t> gpu_sessions, gpu_used, gpu_admitted_memory, gpu_admitted_percent;
  for (const auto& [gpu, total] : gpu_memory) {
    gpu_sessions.emplace(gpu, 0);
    gpu_used.emplace(gpu, 0);
  }
  EndedTotals live;
  std::ostringstream used, limit, percent, kernels, bytes, busy;
  std::map<std::string, double> gpu_busy;  // seconds, live and ended sessions
  for (const auto& [gpu, ns] : ended.busy_ns_by_gpu) gpu_busy[gpu.empty() ? default_gpu : gpu] += ns / 1e9;
  for (const SessionRecord& s : sessions) {
    const SessionStats& st = *s.stats->get();
    std::string gpu = s.gpu_uuid.empty() ? default_gpu : s.gpu_uuid;
    std::string labels = "gpu=\"" + Escape(gpu) + "\",namespace=\"" + Escape(s.pod_namespace) + "\",pod=\"" +
                         Escape(s.pod_name) + "\",session=\"" + std::to_string(s.id) + "\"";
    used << "gpupool_session_memory_used_bytes{" << labels << "} " << st.memory_used_bytes << '\n';
    limit << "gpupool_session_memory_limit_bytes{" << labels << "} " << st.memory_limit_bytes << '\n';
    percent << "gpupool_session_percent{" << labels << "} " << s.percent << '\n';
    kernels << "gpupool_session_kernels_total{" << labels << "} " << st.kernels_launched << '\n';
    busy << "gpupool_session_busy_seconds_total{" << labels << "} " << st.busy_ns / 1e9 << '\n';
    gpu_busy[gpu] += st.busy_ns / 1e9;
    bytes << "gpupool_session_bytes_total{" << labels << ",direction=\"to_device\"} " << st.bytes_to_device
          << "\ngpupool_session_bytes_total{" << labels << ",direction=\"from_device\"} "
          << st.bytes_from_device << '\n';
    ++gpu_sessions[gpu];
    gpu_used[gpu] += st.memory_used_bytes;
    live.bytes_to_device += st.bytes_to_device;
    live.bytes_from_device += st.bytes_from_device;
    live.kernels_launched += st.kernels_launched;
    live.errors += st.errors;
  }
  for (const AdmissionRecord& admission : registry.Admissions()) {
    for (const ShareRecord& share : admission.shares) {
      gpu_admitted_memory[share.gpu_uuid] += share.memory_bytes;
      gpu_admitted_percent[share.gpu_uuid] += share.percent;
    }
  }
  for (const auto& [gpu, total] : gpu_memory) {
    gpu_admitted_memory.emplace(gpu, 0);
    gpu_admitted_percent.emplace(gpu, 0);
  }

  auto per_gpu = [&](const char* name, const char* type, const char* help,
                     const std::map<std::string, std::uint64_t>& values) {
    Header(out, name, type, help);
    for (const auto& [gpu, value] : values)
      out << name << "{gpu=\"" << Escape(gpu) << "\"} " << value << '\n';
  };
  per_gpu("gpupool_sessions", "gauge", "Live client sessions.", gpu_sessions);
  Header(out, "gpupool_sessions_ended_total", "counter", "Sessions that have ended.");
  out << "gpupool_sessions_ended_total " << ended.sessions << '\n';
  Header(out, "gpupool_session_memory_used_bytes", "gauge", "Device memory a session holds.");
  out << used.str();
  Header(out, "gpupool_session_memory_limit_bytes", "gauge", "A session's memory share (0: none).");
  out << limit.str();
  Header(out, "gpupool_session_percent", "gauge", "A session's compute share (percent).");
  out << percent.str();
  Header(out, "gpupool_session_kernels_total", "counter", "Kernels a session launched.");
  out << kernels.str();
  Header(out, "gpupool_session_bytes_total", "counter", "Bytes a session copied, by direction.");
  out << bytes.str();
  Header(out, "gpupool_session_busy_seconds_total", "counter", "Measured run time of a session's kernels.");
  out << busy.str();
  per_gpu("gpupool_gpu_memory_total_bytes", "gauge", "A GPU's device memory.", gpu_memory);
  per_gpu("gpupool_gpu_memory_used_bytes", "gauge", "Device memory allocated by all sessions on a GPU.",
          gpu_used);
  per_gpu("gpupool_gpu_memory_admitted_bytes", "gauge", "Sum of admitted memory shares on a GPU.",
          gpu_admitted_memory);
  per_gpu("gpupool_gpu_percent_admitted", "gauge", "Sum of admitted compute shares on a GPU (percent).",
          gpu_admitted_percent);
  for (const auto& [gpu, total] : gpu_memory) gpu_busy.emplace(gpu, 0.0);
  Header(out, "gpupool_gpu_busy_seconds_total", "counter",
         "Measured run time of all sessions' kernels on a GPU.");
  for (const auto& [gpu, seconds] : gpu_busy)
    out << "gpupool_gpu_busy_seconds_total{gpu=\"" << Escape(gpu) << "\"} " << seconds << '\n';
  // Totals over ended and live sessions; the server does not keep them per GPU or per error code.
  Header(out, "gpupool_kernel_launches_total", "counter", "Kernel launches forwarded, all sessions.");
  out << "gpupool_kernel_launches_total " << ended.kernels_launched + live.kernels_launched << '\n';
  Header(out, "gpupool_bytes_transferred_total", "counter", "Bytes copied, all sessions, by direction.");
  out << "gpupool_bytes_transferred_total{direction=\"to_device\"} "
      << ended.bytes_to_device + live.bytes_to_device
      << "\ngpupool_bytes_transferred_total{direction=\"from_device\"} "
      << ended.bytes_from_device + live.bytes_from_device << '\n';
  Header(out, "gpupool_call_errors_total", "counter", "Driver calls that returned a CUDA error to a client.");
  out << "gpupool_call_errors_total " << ended.errors + live.errors << '\n';
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
