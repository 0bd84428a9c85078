#include "operator/controllers/health_notices.h"

#include <algorithm>
#include <map>
#include <set>

namespace gpupool::controllers {
namespace {

constexpr std::size_t kPodsNamed = 10;  // a pool Event names this many pods, then "and N more"

// One cause of a change: a server failing or answering again, or one GPU its server reports on.
struct Cause {
  bool lost = false;
  bool server_wide = false;
  std::string server, what;  // what: the human-readable cause
  std::vector<std::string> gpus;
  std::vector<std::string> pods;  // "ns/name"
};

std::string HealthMessage(const ServerProbe& p, const std::string& uuid) {
  for (const auto& g : p.inventory.gpus()) {
    if (g.uuid() == uuid) return g.health_message();
  }
  return "";
}

// The cause of GPU `gpu` turning `healthy`, keyed so that one server's failure is one cause.
std::pair<std::string, Cause> CauseOf(const placement::PoolGpu& gpu, bool healthy, const ServerProbe* p) {
  Cause c;
  c.lost = !healthy;
  c.server = gpu.server;
  if (p != nullptr && !p->reachable) {
    c.server_wide = true;
    c.what = "server " + gpu.server + " unreachable since " + p->since;
    return {"server|" + gpu.server, c};
  }
  if (p != nullptr && p->recovered) {
    c.server_wide = true;
    c.what = "server " + gpu.server + " answers again";
    return {"server|" + gpu.server, c};
  }
  const std::string why = p != nullptr ? HealthMessage(*p, gpu.uuid) : "";
  c.what = gpu.uuid + " on server " + gpu.server +
           (healthy ? " healthy again"
                    : " reported unhealthy by its server" + (why.empty() ? "" : " (" + why + ")"));
  return {"gpu|" + gpu.server + "|" + gpu.uuid, c};
}

}  // namespace

std::vector<Notice> HealthNotices(const std::vector<placement::GpuUsage>& before,
                                  const std::vector<placement::GpuUsage>& after,
                                  const std::vector<ServerProbe>& probes,
                                  const std::vector<ShareHolder>& holders) {
  std::map<std::pair<std::string, std::string>, bool> was;
  for (const placement::GpuUsage& u : before) was[{u.gpu.server, u.gpu.uuid}] = u.gpu.healthy;
  std::map<std::string, const ServerProbe*> probe_of;
  for (const ServerProbe& p : probes) probe_of[p.server.address] = &p;

  std::map<std::string, Cause> causes;                                  // by key
  std::map<std::pair<std::string, std::string>, std::string> cause_of;  // changed GPU -> cause key
  for (const placement::GpuUsage& u : after) {
    auto it = was.find({u.gpu.server, u.gpu.uuid});
    if (it == was.end() || it->second == u.gpu.healthy) continue;
    auto p = probe_of.find(u.gpu.server);
    auto [key, cause] = CauseOf(u.gpu, u.gpu.healthy, p != probe_of.end() ? p->second : nullptr);
    causes.try_emplace(key, std::move(cause)).first->second.gpus.push_back(u.gpu.uuid);
    cause_of[{u.gpu.server, u.gpu.uuid}] = key;
  }
  std::vector<Notice> out;
  if (causes.empty()) return out;

  for (const ShareHolder& h : holders) {
    std::map<std::string, std::vector<std::string>> lost, back;  // cause key -> this pod's GPUs
    for (const GpuBinding& g : h.binding.gpus) {
      auto it = cause_of.find({g.server, g.uuid});
      if (it == cause_of.end()) continue;
      (causes[it->second].lost ? lost : back)[it->second].push_back(g.uuid);
    }
    for (auto* group : {&lost, &back}) {
      if (group->empty()) continue;
      std::vector<std::string> parts;
      for (auto& [key, gpus] : *group) {
        causes[key].pods.push_back(h.pod.Key());
        parts.push_back(causes[key].what + " (" + JoinList(gpus) + ")");
      }
      std::string message;
      for (const std::string& p : parts) message += (message.empty() ? "" : "; ") + p;
      if (group == &lost) {
        out.push_back({true, h.pod, "Warning", "GPULost", "lost its GPU: " + message});
      } else {
        out.push_back(
            {true, h.pod, "Normal", "GPURecovered",
             "its GPU is back: " + message + "; a process whose CUDA calls failed must restart to use it"});
      }
    }
  }
  for (auto& [key, c] : causes) {
    std::sort(c.pods.begin(), c.pods.end());
    const std::string pods =
        c.pods.empty() ? "no pod held a share" : "pods holding shares: " + JoinList(c.pods, kPodsNamed);
    if (c.server_wide) {
      const ServerProbe* p = probe_of.count(c.server) ? probe_of[c.server] : nullptr;
      const std::string why = c.lost && p != nullptr && !p->message.empty() ? " (" + p->message + ")" : "";
      out.push_back(
          {false,
           {},
           c.lost ? "Warning" : "Normal",
           c.lost ? "ServerUnreachable" : "ServerRecovered",
           c.what + why + ": GPUs " + JoinList(c.gpus) + (c.lost ? " unhealthy; " : " healthy; ") + pods});
    } else {
      out.push_back({false,
                     {},
                     c.lost ? "Warning" : "Normal",
                     c.lost ? "GPUUnhealthy" : "GPUHealthy",
                     c.what + "; " + pods});
    }
  }
  return out;
}

}  // namespace gpupool::controllers
