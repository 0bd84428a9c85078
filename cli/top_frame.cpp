#include "cli/top_frame.h"

#include <cstdio>
#include <map>
#include <utility>

#include "cli/session_rates.h"
#include "cli/table.h"
#include "common/units.h"

namespace gpupool::cli {
namespace {

using SessionKey = std::pair<std::string, std::uint64_t>;  // server name, session id

std::map<SessionKey, const control::v1::Session*> Index(const TopSample* sample) {
  std::map<SessionKey, const control::v1::Session*> out;
  if (sample == nullptr) return out;
  for (const ServerReport& r : sample->reports) {
    for (const auto& s : r.sessions) out[{r.target.name, s.id()}] = &s;
  }
  return out;
}

SessionRates Rates(const std::map<SessionKey, const control::v1::Session*>& previous, const TopSample& now,
                   const TopSample* before, const ServerReport& r, const control::v1::Session& s) {
  const auto it = previous.find({r.target.name, s.id()});
  const double window = before == nullptr ? 0 : static_cast<double>(now.unix_ms - before->unix_ms) / 1000.0;
  return RatesOf(it == previous.end() ? nullptr : it->second, s, window, now.unix_ms);
}

// The GPU's index on its server when the inventory names it, else its UUID.
std::string GpuName(const ServerReport& r, const std::string& uuid) {
  for (const auto& gpu : r.inventory.gpus()) {
    if (gpu.uuid() == uuid) return std::to_string(gpu.index());
  }
  return uuid;
}

// The session's GPUs, in its device order: "3", or "3,0" for a pod with two GPUs of the server.
std::string GpuNames(const ServerReport& r, const control::v1::Session& s) {
  if (s.gpus_size() == 0) return GpuName(r, s.gpu_uuid());
  std::string names;
  for (const auto& gpu : s.gpus()) names += (names.empty() ? "" : ",") + GpuName(r, gpu.gpu_uuid());
  return names;
}

std::string Pod(const control::v1::Session& s) {
  if (s.pod_name().empty()) return "-";
  return s.pod_namespace().empty() ? s.pod_name() : s.pod_namespace() + "/" + s.pod_name();
}

// `v` with `decimals` digits after the point.
std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string PerSecond(double bytes) {
  return FormatBytes(static_cast<std::uint64_t>(bytes < 0 ? 0 : bytes)) + "/s";
}

}  // namespace

std::string TopTable(const TopSample& now, const TopSample* before) {
  const auto previous = Index(before);
  Table table({"SERVER", "GPU", "POD", "PROCESS", "MEMORY", "LIMIT", "MAPPED", "SHARE", "BUSY", "KERNELS/S",
               "H2D/S", "D2H/S", "AGE"});
  std::size_t sessions = 0, unreachable = 0;
  for (const ServerReport& r : now.reports) {
    if (!r.status.ok()) ++unreachable;
    for (const auto& s : r.sessions) {
      ++sessions;
      const SessionRates rates = Rates(previous, now, before, r, s);
      table.AddRow({r.target.name, GpuNames(r, s), Pod(s), s.process().empty() ? "-" : s.process(),
                    FormatBytes(s.memory_used_bytes()), FormatBytes(s.memory_limit_bytes()),
                    s.mapped_host_bytes() == 0 ? "-" : FormatBytes(s.mapped_host_bytes()),
                    std::to_string(s.percent()) + "%", Fixed(rates.busy_fraction * 100, 0) + "%",
                    Fixed(rates.kernels_per_second, 1), PerSecond(rates.bytes_to_device_per_second),
                    PerSecond(rates.bytes_from_device_per_second),
                    FormatAge((now.unix_ms - s.started_unix_ms()) / 1000)});
    }
  }
  std::string head = std::to_string(sessions) + (sessions == 1 ? " session" : " sessions") + " on " +
                     std::to_string(now.reports.size() - unreachable) + " of " +
                     std::to_string(now.reports.size()) + " servers; rates ";
  head += before == nullptr ? "averaged since each session started"
                            : "over the last " +
                                  Fixed(static_cast<double>(now.unix_ms - before->unix_ms) / 1000.0, 1) + "s";
  std::string out = head + "\n\n" + table.ToString();
  for (const ServerReport& r : now.reports) {
    if (!r.status.ok()) out += r.target.name + ": " + r.status.message() + "\n";
  }
  return out;
}

nlohmann::json TopJson(const TopSample& now, const TopSample* before) {
  const auto previous = Index(before);
  nlohmann::json out = {{"timeUnixMs", now.unix_ms},
                        {"servers", nlohmann::json::array()},
                        {"sessions", nlohmann::json::array()}};
  for (const ServerReport& r : now.reports) {
    out["servers"].push_back({{"server", r.target.name},
                              {"control", r.target.control},
                              {"reachable", r.status.ok()},
                              {"error", r.status.ok() ? "" : r.status.message()}});
    for (const auto& s : r.sessions) {
      const SessionRates rates = Rates(previous, now, before, r, s);
      nlohmann::json gpus = nlohmann::json::array();
      for (const auto& gpu : s.gpus()) gpus.push_back(gpu.gpu_uuid());
      out["sessions"].push_back({{"server", r.target.name},
                                 {"id", s.id()},
                                 {"podUid", s.pod_uid()},
                                 {"podNamespace", s.pod_namespace()},
                                 {"podName", s.pod_name()},
                                 {"peer", s.peer()},
                                 {"process", s.process()},
                                 {"gpuUuid", s.gpu_uuid()},
                                 {"gpuUuids", gpus},
                                 {"memoryUsedBytes", s.memory_used_bytes()},
                                 {"memoryLimitBytes", s.memory_limit_bytes()},
                                 {"percent", s.percent()},
                                 {"kernelsLaunched", s.kernels_launched()},
                                 {"bytesToDevice", s.bytes_to_device()},
                                 {"bytesFromDevice", s.bytes_from_device()},
                                 {"gpuBusySeconds", s.gpu_busy_seconds()},
                                 {"mappedHostBytes", s.mapped_host_bytes()},
                                 {"startedUnixMs", s.started_unix_ms()},
                                 {"rates",
                                  {{"windowSeconds", rates.window_seconds},
                                   {"sinceStart", rates.since_start},
                                   {"kernelsPerSecond", rates.kernels_per_second},
                                   {"bytesToDevicePerSecond", rates.bytes_to_device_per_second},
                                   {"bytesFromDevicePerSecond", rates.bytes_from_device_per_second},
                                   {"busyFraction", rates.busy_fraction}}}});
    }
  }
  return out;
}

}  // namespace gpupool::cli
