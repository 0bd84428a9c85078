#include "operator/controllers/pool_controller.h"

#include <algorithm>
#include <future>

#include "common/kube/errors.h"
#include "common/log.h"
#include "operator/controllers/health_notices.h"
#include "operator/placement/json_at.h"

namespace gpupool::controllers {

using placement::JsonAt;

PoolController::PoolController(kube::Client& client, const kube::Store& pools, ControlClient& control,
                               SharedState& state, EventRecorder& events, metrics::OperatorMetrics& metrics,
                               std::function<void(const std::string&)> on_capacity_change,
                               PoolControllerOptions options)
    : client_(client),
      pools_(pools),
      control_(control),
      state_(state),
      events_(events),
      metrics_(metrics),
      on_capacity_change_(std::move(on_capacity_change)),
      options_(options),
      health_(options.unhealthy_after) {}

void PoolController::SeedFromStatus() {
  for (const kube::Json& pool : pools_.List()) {
    auto spec = ParsePoolSpec(pool);
    if (!spec.ok()) continue;
    std::vector<ServerProbe> unreachable;
    for (const PoolServer& s : spec->servers)
      unreachable.push_back(ServerProbe{s, false, "not probed yet", {}, false, false, ""});
    // Not failed (yet): health as last published. Claims on them must count before the first probe.
    std::vector<placement::PoolGpu> gpus = PoolGpus(unreachable, JsonAt(pool, "status"));
    state_.servers.Set(spec->servers);
    state_.ledger.SetPool(spec->name, spec->policy, spec->is_default, std::move(gpus));
  }
}

std::vector<ServerProbe> PoolController::Probe(const PoolSpec& spec) {
  std::vector<std::future<ServerProbe>> futures;
  for (const PoolServer& server : spec.servers) {
    futures.push_back(std::async(std::launch::async, [this, server] {
      ServerProbe p{server, false, "", {}, false, false, ""};
      auto inv = control_.GetInventory(server.control);
      if (inv.ok()) {
        p.reachable = true;
        p.inventory = std::move(*inv);
      } else {
        p.message = inv.status().message();
      }
      return p;
    }));
  }
  std::vector<ServerProbe> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

std::chrono::milliseconds PoolController::Judge(std::vector<ServerProbe>& probes,
                                                const kube::Json& old_status,
                                                std::chrono::steady_clock::time_point now) {
  const std::string wall = NowRfc3339();
  std::chrono::milliseconds next = options_.probe_interval;
  for (ServerProbe& p : probes) {
    ServerHealth::Published published;
    for (const kube::Json& s : JsonAt(old_status, "servers")) {
      if (placement::JsonString(s, "address") != p.server.address) continue;
      published.failed = JsonAt(s, "healthy").is_boolean() && !JsonAt(s, "healthy").get<bool>();
      published.since = placement::JsonString(s, "unreachableSince");
    }
    const ServerHealth::Verdict v = health_.Observe(p.server.address, p.reachable, now, wall, published);
    p.failed = v.failed;
    p.recovered = v.recovered;
    p.since = v.since;
    if (v.recheck.count() > 0) next = std::min(next, v.recheck);
  }
  return next;
}

void PoolController::RecordHealthChanges(const kube::Json& pool,
                                         const std::vector<placement::GpuUsage>& before,
                                         const std::vector<placement::GpuUsage>& after,
                                         const std::vector<ServerProbe>& probes) {
  const std::string name = kube::NameOf(pool);
  std::vector<ShareHolder> holders;
  for (const std::string& uid : state_.ledger.Pods()) {
    auto pod = state_.ledger.Holder(uid);
    auto binding = state_.ledger.Find(uid);
    if (pod && binding && binding->pool == name) holders.push_back({*pod, *binding});
  }
  for (const Notice& n : HealthNotices(before, after, probes, holders)) {
    if (!n.on_pod) {
      events_.Record(kube::GPUPools(), pool, n.type, n.reason, n.message);
      continue;
    }
    const kube::Json pod = {
        {"metadata", {{"name", n.pod.name}, {"namespace", n.pod.ns}, {"uid", n.pod.uid}}}};
    events_.Record(kube::Pods(), pod, n.type, n.reason, n.message);
  }
}

Result<std::chrono::milliseconds> PoolController::Reconcile(const std::string& name) {
  events_.FlushDue();
  auto pool = pools_.Get(name);
  if (!pool) {
    state_.ledger.RemovePool(name);
    metrics_.RemovePool(name);
    std::lock_guard lock(mu_);
    cache_.erase(name);
    return std::chrono::milliseconds(0);
  }
  auto spec = ParsePoolSpec(*pool);
  if (!spec.ok()) {
    events_.Record(kube::GPUPools(), *pool, "Warning", "InvalidSpec", spec.status().message());
    return spec.status();
  }
  if (spec->has_node_selector) {
    static const kube::Resource kNodes{"", "v1", "nodes", "Node", false};
    kube::ListOptions options;
    options.label_selector = spec->node_selector;
    auto nodes = client_.List(kNodes, "", options);
    if (!nodes.ok()) return nodes.status().Annotate("nodes of GPUPool " + name);
    for (PoolServer& s : ServersOnNodes(*spec, *nodes)) spec->servers.push_back(std::move(s));
  }
  const kube::Json& old_status = JsonAt(*pool, "status");
  std::vector<ServerProbe> probes;
  const auto now = std::chrono::steady_clock::now();
  auto next_probe = now + options_.probe_interval;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(name);
    if (it != cache_.end() && it->second.generation == spec->generation &&
        it->second.probes.size() == spec->servers.size() && now < it->second.next_probe) {
      probes = it->second.probes;
      next_probe = it->second.next_probe;
    }
  }
  if (probes.empty() && !spec->servers.empty()) {
    probes = Probe(*spec);
    // Judged when the answers are in: a slow probe must not count against a server's grace.
    const auto judged = std::chrono::steady_clock::now();
    next_probe = judged + Judge(probes, old_status, judged);
    std::lock_guard lock(mu_);
    cache_[name] = Cached{probes, next_probe, spec->generation};
  }
  std::vector<placement::PoolGpu> gpus = PoolGpus(probes, old_status);
  const std::vector<placement::GpuUsage> before = state_.ledger.Usage(name);
  state_.servers.Set(spec->servers);
  state_.ledger.SetPool(name, spec->policy, spec->is_default, gpus);
  std::vector<placement::GpuUsage> usage = state_.ledger.Usage(name);
  bool capacity_changed = before.size() != usage.size();
  for (std::size_t i = 0; !capacity_changed && i < usage.size(); ++i) {
    capacity_changed = before[i].gpu.uuid != usage[i].gpu.uuid ||
                       before[i].gpu.healthy != usage[i].gpu.healthy ||
                       before[i].gpu.memory_bytes != usage[i].gpu.memory_bytes;
  }
  // At once, before anything else places onto new GPUs: the binder claims the bindings naming them.
  if (capacity_changed && on_capacity_change_) {
    on_capacity_change_(name);
    usage = state_.ledger.Usage(name);
  }
  if (capacity_changed) RecordHealthChanges(*pool, before, usage, probes);

  kube::Json status =
      BuildPoolStatus(*spec, probes, usage, state_.pending.Snapshot(name), old_status, NowRfc3339());
  metrics::PoolNumbers n;
  for (const placement::GpuUsage& u : usage) {
    (u.gpu.healthy ? n.healthy_gpus : n.unhealthy_gpus)++;
    n.percent_allocated += u.allocated_percent;
    n.memory_allocated_bytes += static_cast<double>(u.allocated_memory_bytes);
    if (u.gpu.healthy) {
      n.percent_capacity += 100;
      n.memory_capacity_bytes += static_cast<double>(u.gpu.memory_bytes);
    }
  }
  for (const ServerProbe& p : probes) (p.reachable ? n.reachable_servers : n.unreachable_servers)++;
  metrics_.SetPool(name, n);

  if (status != old_status) {
    kube::Json updated = *pool;
    updated["status"] = status;
    auto written = client_.UpdateStatus(kube::GPUPools(), updated);
    if (!written.ok()) {
      // A stale copy (409) is normal: the informer brings the new one and the key is retried.
      return written.status().Annotate("GPUPool " + name + " status");
    }
  }
  // At least 1 ms: 0 would mean "only on the next event".
  return std::max(std::chrono::milliseconds(1), std::chrono::ceil<std::chrono::milliseconds>(
                                                    next_probe - std::chrono::steady_clock::now()));
}

}  // namespace gpupool::controllers
