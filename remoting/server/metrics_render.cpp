#include "remoting/server/metrics_render.h"

#include <map>

#include "common/metrics/registry.h"
#include "remoting/protocol/result_names.h"
#include "remoting/server/stat_reasons.h"

namespace gpupool::server {
namespace {

using metrics::Labels;

void DeclareAll(metrics::Registry& m) {
  m.DeclareGauge("gpupool_server_info", "This server process: version, device kind, id (value 1).");
  m.DeclareGauge("gpupool_gpu_info", "A GPU of this server: index and model (value 1).");
  m.DeclareGauge("gpupool_gpu_healthy", "1 when every query the inventory made on the GPU succeeded.");
  m.DeclareGauge("gpupool_gpu_memory_total_bytes", "A GPU's device memory.");
  m.DeclareGauge("gpupool_gpu_memory_used_bytes", "Device memory allocated by all sessions on a GPU.");
  m.DeclareGauge("gpupool_gpu_memory_admitted_bytes", "Sum of admitted memory shares on a GPU.");
  m.DeclareGauge("gpupool_gpu_percent_admitted", "Sum of admitted compute shares on a GPU (percent).");
  m.DeclareGauge("gpupool_sessions", "Live client sessions.");
  m.DeclareGauge("gpupool_ipc_exports",
                 "Interprocess memory and event handles the live sessions have exported.");
  m.DeclareCounter("gpupool_sessions_started_total", "Sessions accepted (handshake passed, worker started).");
  m.DeclareCounter("gpupool_sessions_ended_total", "Sessions that have ended, by why.");
  m.DeclareGauge("gpupool_session_memory_used_bytes", "Device memory a session holds.");
  m.DeclareGauge("gpupool_session_memory_limit_bytes", "A session's memory share (0: none).");
  m.DeclareGauge("gpupool_session_percent", "A session's compute share (percent).");
  m.DeclareGauge("gpupool_session_mapped_host_bytes",
                 "Pinned host memory a session on this node holds mapped for its GPUs.");
  m.DeclareCounter("gpupool_session_kernels_total", "Kernels a session launched.");
  m.DeclareCounter("gpupool_session_bytes_total", "Bytes a session copied, by direction.");
  m.DeclareCounter("gpupool_session_busy_seconds_total", "Measured run time of a session's kernels.");
  m.DeclareCounter("gpupool_gpu_busy_seconds_total", "Measured run time of all sessions' kernels on a GPU.");
  m.DeclareCounter("gpupool_kernel_launches_total", "Kernel launches forwarded, all sessions, by GPU.");
  m.DeclareCounter("gpupool_bytes_transferred_total", "Bytes copied, all sessions, by GPU and direction.");
  m.DeclareCounter("gpupool_call_errors_total",
                   "Driver calls that returned a CUDA error to a client, by CUresult.");
  m.DeclareCounter("gpupool_protocol_errors_total",
                   "Protocol violations (the connection is closed), by rule.");
  m.DeclareCounter("gpupool_auth_failures_total", "Connections refused at the handshake, by why.");
  m.DeclareHistogram("gpupool_request_duration_seconds",
                     "Worker time per synchronous request, receipt to reply, by call class.",
                     std::vector<double>(std::begin(kDurationBounds), std::end(kDurationBounds)));
  m.DeclareCounter("gpupool_module_cache_hits_total",
                   "Module/library images found in the session's cache or the server's image directory.");
  m.DeclareCounter("gpupool_module_cache_misses_total", "Module/library images the client had to upload.");
  m.DeclareGauge("gpupool_module_cache_bytes", "Bytes held by the image caches of live sessions.");
}

double D(std::uint64_t v) {
  return static_cast<double>(v);
}

}  // namespace

std::string RenderMetrics(const Registry& registry, const ServerIdentity& server,
                          const std::vector<GpuInfo>& gpus) {
  metrics::Registry m;
  DeclareAll(m);
  const std::string default_gpu = gpus.empty() ? std::string() : gpus.front().uuid;
  auto gpu_of = [&](const std::string& uuid) { return uuid.empty() ? default_gpu : uuid; };

  m.Set("gpupool_server_info",
        {{"version", server.version}, {"device_kind", server.device_kind}, {"server_id", server.server_id}},
        1);
  std::map<std::string, SessionTotals> totals;  // by GPU: ended sessions, then live ones added
  std::map<std::string, std::uint64_t> sessions, used, admitted_memory, admitted_percent;
  for (const GpuInfo& g : gpus) {
    m.Set("gpupool_gpu_info", {{"gpu", g.uuid}, {"index", std::to_string(g.index)}, {"model", g.name}}, 1);
    m.Set("gpupool_gpu_healthy", {{"gpu", g.uuid}}, g.healthy ? 1 : 0);
    m.Set("gpupool_gpu_memory_total_bytes", {{"gpu", g.uuid}}, D(g.memory_bytes));
    totals[g.uuid];
    sessions[g.uuid] = used[g.uuid] = admitted_memory[g.uuid] = admitted_percent[g.uuid] = 0;
  }
  for (const auto& [gpu, ended] : registry.ended()) totals[gpu_of(gpu)].Add(ended);

  std::uint64_t cache_bytes = 0;
  for (const SessionRecord& s : registry.Sessions()) {
    const SessionStats& st = *s.stats->get();
    // A series per GPU of the session.
    for (std::uint32_t i = 0; i < st.gpu_count(); ++i) {
      const SessionGpu& g = st.gpus[i];
      const std::string gpu = gpu_of(std::string(g.Uuid()));
      Labels labels = {{"gpu", gpu},
                       {"namespace", s.pod_namespace},
                       {"pod", s.pod_name},
                       {"session", std::to_string(s.id)}};
      m.Set("gpupool_session_memory_used_bytes", labels, D(g.memory_used_bytes));
      m.Set("gpupool_session_memory_limit_bytes", labels, D(g.memory_limit_bytes));
      m.Set("gpupool_session_percent", labels, g.percent);
      m.Set("gpupool_session_kernels_total", labels, D(g.kernels_launched));
      m.Set("gpupool_session_busy_seconds_total", labels, D(g.busy_ns) / 1e9);
      Labels to = labels, from = labels;
      to.emplace_back("direction", "to_device");
      from.emplace_back("direction", "from_device");
      m.Set("gpupool_session_bytes_total", to, D(g.bytes_to_device));
      m.Set("gpupool_session_bytes_total", from, D(g.bytes_from_device));
      ++sessions[gpu];
      used[gpu] += g.memory_used_bytes;
      totals[gpu].Add(SessionTotals::Of(st, i));
    }
    cache_bytes += st.image_cache_bytes;
    if (const std::uint64_t mapped = st.mapped_host_bytes; mapped != 0) {
      m.Set("gpupool_session_mapped_host_bytes",
            {{"namespace", s.pod_namespace}, {"pod", s.pod_name}, {"session", std::to_string(s.id)}},
            D(mapped));
    }
  }
  for (const AdmissionRecord& admission : registry.Admissions()) {
    for (const ShareRecord& share : admission.shares) {
      admitted_memory[share.gpu_uuid] += share.memory_bytes;
      admitted_percent[share.gpu_uuid] += share.percent;
    }
  }
  auto per_gpu = [&m](const char* name, const std::map<std::string, std::uint64_t>& values) {
    for (const auto& [gpu, value] : values) m.Set(name, {{"gpu", gpu}}, D(value));
  };
  per_gpu("gpupool_sessions", sessions);
  per_gpu("gpupool_gpu_memory_used_bytes", used);
  per_gpu("gpupool_gpu_memory_admitted_bytes", admitted_memory);
  per_gpu("gpupool_gpu_percent_admitted", admitted_percent);

  SessionTotals all;
  for (const auto& [gpu, t] : totals) {
    m.Set("gpupool_kernel_launches_total", {{"gpu", gpu}}, D(t.kernels_launched));
    m.Set("gpupool_gpu_busy_seconds_total", {{"gpu", gpu}}, D(t.busy_ns) / 1e9);
    m.Set("gpupool_bytes_transferred_total", {{"gpu", gpu}, {"direction", "to_device"}},
          D(t.bytes_to_device));
    m.Set("gpupool_bytes_transferred_total", {{"gpu", gpu}, {"direction", "from_device"}},
          D(t.bytes_from_device));
    all.Add(t);
  }
  // Only the CUresults that happened: a series per possible code would be a hundred zeros.
  for (std::size_t i = 0; i < all.errors_by_result.size(); ++i) {
    if (all.errors_by_result[i] == 0) continue;
    const char* code = i < protocol::kResultCount ? protocol::ResultName(protocol::ResultAt(i)) : "other";
    m.Set("gpupool_call_errors_total", {{"code", code}}, D(all.errors_by_result[i]));
  }
  for (std::size_t c = 1; c < kCallClasses; ++c) {
    if (!CallClassAnswers(c)) continue;
    std::vector<std::uint64_t> counts(all.duration_buckets[c].begin(), all.duration_buckets[c].end());
    m.AddObservations("gpupool_request_duration_seconds", {{"call_class", CallClassName(c)}}, counts,
                      D(all.duration_sum_ns[c]) / 1e9);
  }
  m.Set("gpupool_module_cache_hits_total", {}, D(all.image_cache_hits));
  m.Set("gpupool_module_cache_misses_total", {}, D(all.image_cache_misses));
  m.Set("gpupool_module_cache_bytes", {}, D(cache_bytes));
  if (const IpcDirectory* ipc = registry.ipc_directory()) m.Set("gpupool_ipc_exports", {}, ipc->Count());

  ServerCounters counters = registry.counters();
  m.Set("gpupool_sessions_started_total", {}, D(counters.sessions_started));
  // Every reason is listed (0 until it happens) so rate() sees the first one; "unknown" only if used.
  for (std::size_t i = 0; i < kSessionEndCount; ++i) {
    if (i == 0 && counters.sessions_ended[i] == 0) continue;
    m.Set("gpupool_sessions_ended_total", {{"reason", SessionEndName(static_cast<SessionEnd>(i))}},
          D(counters.sessions_ended[i]));
  }
  for (std::size_t i = 0; i < kProtocolErrorCount; ++i) {
    if (i == 0 && counters.protocol_errors[i] == 0) continue;
    m.Set("gpupool_protocol_errors_total", {{"reason", ProtocolErrorName(static_cast<ProtocolError>(i))}},
          D(counters.protocol_errors[i]));
  }
  for (std::size_t i = 0; i < kAuthFailureCount; ++i) {
    m.Set("gpupool_auth_failures_total", {{"reason", AuthFailureName(static_cast<AuthFailure>(i))}},
          D(counters.auth_failures[i]));
  }
  return m.Render();
}

}  // namespace gpupool::server
