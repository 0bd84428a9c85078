#include "operator/controllers/pool_status.h"

#include <algorithm>
#include <map>

#include "operator/controllers/control_client.h"
#include "operator/placement/json_at.h"

namespace gpupool::controllers {
namespace {

using nlohmann::json;
using placement::JsonAt;
using placement::JsonString;

bool JsonTrue(const json& j, const char* key) {
  const json& v = JsonAt(j, key);
  return v.is_boolean() && v.get<bool>();
}

// The GPU `uuid` of `server` in a published status (null when absent).
const json& OldGpu(const json& old_status, const std::string& server, const std::string& uuid) {
  static const json kNull;
  for (const json& g : JsonAt(old_status, "gpus")) {
    if (JsonString(g, "server") == server && JsonString(g, "uuid") == uuid) return g;
  }
  return kNull;
}

// Why a GPU is unhealthy, from its server's probe (nullptr when the pool no longer lists it).
std::string UnhealthyMessage(const placement::PoolGpu& gpu, const ServerProbe* p, const json& old) {
  if (p != nullptr && !p->reachable && p->failed) {
    return "server unreachable since " + p->since + ": " + p->message;
  }
  if (p != nullptr && p->reachable) {
    for (const auto& g : p->inventory.gpus()) {
      if (g.uuid() == gpu.uuid && !g.health_message().empty())
        return "reported unhealthy by its server: " + g.health_message();
    }
    return "reported unhealthy by its server";
  }
  const std::string published = JsonString(old, "message");
  return published.empty() ? "unhealthy" : published;
}

}  // namespace

Result<PoolSpec> ParsePoolSpec(const json& pool) {
  PoolSpec s;
  s.name = JsonString(JsonAt(pool, "metadata"), "name");
  if (s.name.empty()) return Status::InvalidArgument("GPUPool has no metadata.name");
  const json& gen = JsonAt(JsonAt(pool, "metadata"), "generation");
  s.generation = gen.is_number_integer() ? gen.get<long long>() : 0;
  const json& spec = JsonAt(pool, "spec");
  GPUPOOL_ASSIGN_OR_RETURN(s.policy, placement::ParsePolicy(JsonString(spec, "policy")));
  s.is_default = JsonAt(spec, "default").is_boolean() && JsonAt(spec, "default").get<bool>();
  for (const json& server : JsonAt(spec, "servers")) {
    PoolServer ps;
    ps.address = JsonString(server, "address");
    if (ps.address.empty()) return Status::InvalidArgument("GPUPool " + s.name + ": a server has no address");
    ps.control = JsonString(server, "controlAddress");
    if (ps.control.empty()) ps.control = DefaultControlAddress(ps.address);
    ps.node = JsonString(server, "node");
    s.servers.push_back(std::move(ps));
  }
  const json& selector = JsonAt(spec, "serverSelector");
  if (selector.is_object()) {
    s.has_node_selector = true;
    s.node_selector = LabelSelectorString(selector);
  }
  if (JsonAt(spec, "serverPort").is_number_integer()) s.server_port = JsonAt(spec, "serverPort").get<int>();
  if (JsonAt(spec, "controlPort").is_number_integer())
    s.control_port = JsonAt(spec, "controlPort").get<int>();
  return s;
}

std::string LabelSelectorString(const json& selector) {
  std::string out;
  auto add = [&out](const std::string& term) { out += (out.empty() ? "" : ",") + term; };
  for (const auto& [key, value] : JsonAt(selector, "matchLabels").items()) {
    if (value.is_string()) add(key + "=" + value.get<std::string>());
  }
  for (const json& e : JsonAt(selector, "matchExpressions")) {
    const std::string key = JsonString(e, "key"), op = JsonString(e, "operator");
    std::string values;
    for (const json& v : JsonAt(e, "values")) {
      if (v.is_string()) values += (values.empty() ? "" : ",") + v.get<std::string>();
    }
    if (op == "In") add(key + " in (" + values + ")");
    if (op == "NotIn") add(key + " notin (" + values + ")");
    if (op == "Exists") add(key);
    if (op == "DoesNotExist") add("!" + key);
  }
  return out;
}

std::vector<PoolServer> ServersOnNodes(const PoolSpec& spec, const json& nodes) {
  std::vector<PoolServer> out;
  for (const json& node : JsonAt(nodes, "items")) {
    std::string ip;
    for (const json& a : JsonAt(JsonAt(node, "status"), "addresses")) {
      if (JsonString(a, "type") == "InternalIP" || ip.empty()) ip = JsonString(a, "address");
      if (JsonString(a, "type") == "InternalIP") break;
    }
    if (ip.empty()) continue;
    const std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    const std::string hostname =
        JsonString(JsonAt(JsonAt(node, "metadata"), "labels"), kHostnameLabel.data());
    PoolServer ps{
        host + ":" + std::to_string(spec.server_port),
        host + ":" + std::to_string(spec.control_port > 0 ? spec.control_port : spec.server_port + 1),
        hostname.empty() ? JsonString(JsonAt(node, "metadata"), "name") : hostname};
    bool listed = false;
    for (const PoolServer& s : spec.servers) listed = listed || s.address == ps.address;
    if (!listed) out.push_back(std::move(ps));
  }
  return out;
}

std::vector<placement::PoolGpu> PoolGpus(const std::vector<ServerProbe>& probes, const json& old_status) {
  std::vector<placement::PoolGpu> out;
  for (const ServerProbe& p : probes) {
    if (p.reachable) {
      for (const auto& g : p.inventory.gpus()) {
        out.push_back({p.server.address, g.uuid(), g.model(), g.memory_bytes(), g.healthy(), p.server.node});
      }
      continue;
    }
    for (const json& g : JsonAt(old_status, "gpus")) {
      if (JsonString(g, "server") != p.server.address) continue;
      const json& mem = JsonAt(g, "memoryBytes");
      // Within its grace period a silent server's GPUs keep their published health.
      out.push_back({p.server.address, JsonString(g, "uuid"), JsonString(g, "model"),
                     mem.is_number_unsigned() ? mem.get<std::uint64_t>() : 0,
                     !p.failed && JsonTrue(g, "healthy"), p.server.node});
    }
  }
  return out;
}

std::string JoinList(const std::vector<std::string>& items, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) out += (i == 0 ? "" : ", ") + items[i];
  if (items.size() > limit) out += " and " + std::to_string(items.size() - limit) + " more";
  return out;
}

void SetCondition(json& conditions, const json& old_conditions, const std::string& type, bool status,
                  const std::string& reason, const std::string& message, long long generation,
                  const std::string& now) {
  const std::string s = status ? "True" : "False";
  std::string since = now;
  for (const json& c : old_conditions) {
    if (JsonString(c, "type") == type && JsonString(c, "status") == s)
      since = JsonString(c, "lastTransitionTime");
  }
  conditions.push_back({{"type", type},
                        {"status", s},
                        {"observedGeneration", generation},
                        {"lastTransitionTime", since.empty() ? now : since},
                        {"reason", reason},
                        {"message", message}});
}

json BuildPoolStatus(const PoolSpec& spec, const std::vector<ServerProbe>& probes,
                     const std::vector<placement::GpuUsage>& usage, const Pending& pending,
                     const json& old_status, const std::string& now) {
  json status = {{"observedGeneration", spec.generation}};
  json servers = json::array();
  std::map<std::string, const ServerProbe*> probe_of;
  std::vector<std::string> failed, silent, sick;
  int reachable = 0;
  for (const ServerProbe& p : probes) {
    probe_of[p.server.address] = &p;
    json s = {{"address", p.server.address},
              {"controlAddress", p.server.control},
              {"reachable", p.reachable},
              {"healthy", !p.failed}};
    if (p.reachable) {
      ++reachable;
      s["serverID"] = p.inventory.server_id();
      s["version"] = p.inventory.version();
      s["deviceKind"] = p.inventory.device_kind();
      s["driverVersion"] = p.inventory.driver_version();
    } else {
      s["message"] = p.message;
      if (!p.since.empty()) s["unreachableSince"] = p.since;
      (p.failed ? failed : silent).push_back(p.server.address + " (since " + p.since + ")");
    }
    servers.push_back(std::move(s));
  }
  json gpus = json::array();
  int healthy = 0, bound = 0;
  double allocated = 0, free = 0;
  std::uint64_t capacity_mem = 0, allocated_mem = 0;
  for (const placement::GpuUsage& u : usage) {
    json g = {{"server", u.gpu.server},
              {"uuid", u.gpu.uuid},
              {"model", u.gpu.model},
              {"memoryBytes", u.gpu.memory_bytes},
              {"allocatedPercent", u.allocated_percent},
              {"allocatedMemoryBytes", u.allocated_memory_bytes},
              {"pods", u.pods},
              {"healthy", u.gpu.healthy}};
    const json& old = OldGpu(old_status, u.gpu.server, u.gpu.uuid);
    const std::string since = JsonString(old, "lastTransitionTime");
    const bool same = JsonAt(old, "healthy").is_boolean() && JsonTrue(old, "healthy") == u.gpu.healthy;
    g["lastTransitionTime"] = same && !since.empty() ? since : now;
    if (!u.gpu.healthy) {
      auto it = probe_of.find(u.gpu.server);
      const ServerProbe* p = it != probe_of.end() ? it->second : nullptr;
      g["message"] = UnhealthyMessage(u.gpu, p, old);
      if (p != nullptr && p->reachable) sick.push_back(u.gpu.uuid + " on " + u.gpu.server);
    }
    gpus.push_back(std::move(g));
    allocated += u.allocated_percent / 100.0;
    allocated_mem += u.allocated_memory_bytes;
    bound += u.pods;
    if (u.gpu.healthy) {
      ++healthy;
      free += std::max(0, 100 - u.allocated_percent) / 100.0;
      capacity_mem += u.gpu.memory_bytes;
    }
  }
  status["serverCount"] = probes.size();
  status["readyServers"] = reachable;
  status["gpuCount"] = usage.size();
  status["healthyGPUs"] = healthy;
  status["allocatedGPUs"] = allocated;
  status["freeGPUs"] = free;
  status["capacityMemoryBytes"] = capacity_mem;
  status["allocatedMemoryBytes"] = allocated_mem;
  status["boundPods"] = bound;
  status["pendingPods"] = pending.pods;
  status["servers"] = std::move(servers);
  status["gpus"] = std::move(gpus);

  const json& old_conditions = JsonAt(old_status, "conditions");
  json conditions = json::array();
  const bool ready = healthy > 0;
  SetCondition(
      conditions, old_conditions, "Ready", ready, ready ? "GPUsAvailable" : "NoHealthyGPUs",
      ready ? std::to_string(healthy) + " healthy GPUs on " + std::to_string(reachable) + " reachable servers"
            : (probes.empty() ? "the pool lists no servers" : "no reachable server reports a healthy GPU"),
      spec.generation, now);
  std::vector<std::string> degraded;
  if (!failed.empty()) degraded.push_back("unreachable: " + JoinList(failed));
  if (!sick.empty()) degraded.push_back("unhealthy GPUs: " + JoinList(sick));
  std::string message;
  for (const std::string& d : degraded) message += (message.empty() ? "" : "; ") + d;
  if (degraded.empty()) {
    message = silent.empty() ? "every server answers and reports its GPUs healthy"
                             : "not answering, GPUs kept until the grace period ends: " + JoinList(silent);
  }
  SetCondition(conditions, old_conditions, "Degraded", !degraded.empty(),
               !failed.empty()   ? "ServersUnreachable"
               : !sick.empty()   ? "GPUsUnhealthy"
               : !silent.empty() ? "ServersNotAnswering"
                                 : "AllServersHealthy",
               message, spec.generation, now);
  SetCondition(conditions, old_conditions, "CapacityAvailable", pending.pods == 0,
               pending.pods == 0 ? "NoPodsWaiting" : "PodsWaiting",
               pending.pods == 0 ? "no pod waits for capacity"
                                 : std::to_string(pending.pods) + " pods wait for capacity (" +
                                       JoinList(pending.examples) + "): " + pending.reason,
               spec.generation, now);
  status["conditions"] = std::move(conditions);
  return status;
}

}  // namespace gpupool::controllers
