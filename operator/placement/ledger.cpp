#include "operator/placement/ledger.h"

#include <algorithm>
#include <cstdio>

namespace gpupool::placement {
namespace {

std::string Gib(std::uint64_t bytes) {
  const double gib = static_cast<double>(bytes) / static_cast<double>(1ULL << 30);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", gib);
  return buf;
}

}  // namespace

void Ledger::SetPool(const std::string& pool, Policy policy, bool is_default, std::vector<PoolGpu> gpus) {
  std::lock_guard lock(mu_);
  pools_[pool] = Pool{policy, is_default, std::move(gpus)};
}

void Ledger::RemovePool(const std::string& pool) {
  std::lock_guard lock(mu_);
  pools_.erase(pool);
}

bool Ledger::HasPool(const std::string& pool) const {
  std::lock_guard lock(mu_);
  return pools_.count(pool) > 0;
}

Result<std::string> Ledger::DefaultPool() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> marked;
  for (const auto& [name, p] : pools_) {
    if (p.is_default) marked.push_back(name);
  }
  if (marked.empty()) return Status::NotFound("no GPUPool is marked default (spec.default: true)");
  if (marked.size() > 1) {
    return Status::FailedPrecondition("several GPUPools are marked default: " + marked[0] + ", " + marked[1]);
  }
  return marked[0];
}

const PoolGpu* Ledger::FindGpu(const Pool& pool, const GpuBinding& g) const {
  for (const PoolGpu& gpu : pool.gpus) {
    if (gpu.server == g.server && gpu.uuid == g.uuid) return &gpu;
  }
  return nullptr;
}

Status Ledger::Claim(const PodRef& pod, const Binding& binding) {
  std::lock_guard lock(mu_);
  if (auto it = claims_.find(pod.uid); it != claims_.end()) {
    if (it->second.binding == binding) return Status::Ok();
    return Status::Conflict("pod " + pod.Key() + " holds " + BindingToJson(it->second.binding) +
                            " in the ledger but its annotation says " + BindingToJson(binding) +
                            " (edited by someone else)");
  }
  auto pit = pools_.find(binding.pool);
  if (pit == pools_.end())
    return Status::NotFound("binding names pool " + binding.pool + ", which does not exist");
  for (const GpuBinding& g : binding.gpus) {
    const PoolGpu* gpu = FindGpu(pit->second, g);
    if (gpu == nullptr) {
      return Status::NotFound("binding names GPU " + g.uuid + " on " + g.server + ", which pool " +
                              binding.pool + " does not have");
    }
    const Alloc& a = allocs_[GpuKey{g.server, g.uuid}];
    if (a.percent + g.percent > 100 || a.memory + g.memory_bytes > gpu->memory_bytes) {
      std::string holders;
      for (const std::string& uid : a.pods) {
        holders += (holders.empty() ? "" : ", ") + claims_.at(uid).pod.Key();
      }
      return Status::FailedPrecondition("binding would overbook GPU " + g.uuid + " on " + g.server + ": " +
                                        std::to_string(a.percent) + "% and " + Gib(a.memory) +
                                        " already held by " + (holders.empty() ? "nobody" : holders) +
                                        ", it asks " + std::to_string(g.percent) + "% and " +
                                        Gib(g.memory_bytes) + " of " + Gib(gpu->memory_bytes));
    }
  }
  for (const GpuBinding& g : binding.gpus) {
    Alloc& a = allocs_[GpuKey{g.server, g.uuid}];
    a.percent += g.percent;
    a.memory += g.memory_bytes;
    a.pods.insert(pod.uid);
  }
  claims_[pod.uid] = Claimed{pod, binding};
  by_key_[pod.Key()] = pod.uid;
  return Status::Ok();
}

std::optional<Binding> Ledger::Release(const std::string& uid) {
  std::lock_guard lock(mu_);
  auto it = claims_.find(uid);
  if (it == claims_.end()) return std::nullopt;
  Binding b = std::move(it->second.binding);
  if (auto k = by_key_.find(it->second.pod.Key()); k != by_key_.end() && k->second == uid) by_key_.erase(k);
  claims_.erase(it);
  for (const GpuBinding& g : b.gpus) {
    auto ait = allocs_.find(GpuKey{g.server, g.uuid});
    if (ait == allocs_.end()) continue;
    ait->second.percent -= g.percent;
    ait->second.memory -= g.memory_bytes;
    ait->second.pods.erase(uid);
    if (ait->second.pods.empty()) allocs_.erase(ait);
  }
  return b;
}

std::optional<Binding> Ledger::Find(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = claims_.find(uid);
  if (it == claims_.end()) return std::nullopt;
  return it->second.binding;
}

std::optional<PodRef> Ledger::Holder(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = claims_.find(uid);
  if (it == claims_.end()) return std::nullopt;
  return it->second.pod;
}

std::optional<std::string> Ledger::UidOfPod(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Ledger::Pods() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [uid, c] : claims_) out.push_back(uid);
  return out;
}

Result<Binding> Ledger::Place(const std::string& pool, const Request& request) const {
  std::lock_guard lock(mu_);
  auto pit = pools_.find(pool);
  if (pit == pools_.end()) return Status::NotFound("pool " + pool + " does not exist");
  const Pool& p = pit->second;
  std::vector<Candidate> fitting;
  int healthy = 0;
  std::uint64_t largest = 0;
  for (const PoolGpu& gpu : p.gpus) {
    largest = std::max(largest, gpu.memory_bytes);
    if (!gpu.healthy) continue;
    if (request.node_local &&
        (gpu.node.empty() || (!request.pinned_node.empty() && gpu.node != request.pinned_node)))
      continue;
    ++healthy;
    Candidate c{gpu.server, gpu.uuid, 100, gpu.memory_bytes, MemoryOnGpu(request, gpu.memory_bytes)};
    if (auto ait = allocs_.find(GpuKey{gpu.server, gpu.uuid}); ait != allocs_.end()) {
      c.free_percent -= ait->second.percent;
      c.free_memory_bytes -= std::min(c.free_memory_bytes, ait->second.memory);
    }
    if (c.free_percent >= request.percent && c.free_memory_bytes >= c.need_memory_bytes) fitting.push_back(c);
  }
  if (request.memory_gib && !p.gpus.empty() && (*request.memory_gib << 30) > largest) {
    return Status::InvalidArgument("pool " + pool + ": the pod asks " + std::to_string(*request.memory_gib) +
                                   " GiB per GPU, more than its largest GPU has (" + Gib(largest) + ")");
  }
  std::vector<std::size_t> chosen = Choose(fitting, request.gpus, p.policy);
  if (chosen.empty()) {
    return Status::ResourceExhausted(
        "pool " + pool + ": " + std::to_string(fitting.size()) + " of " + std::to_string(healthy) +
        " healthy GPUs have " + std::to_string(request.percent) + "% free" +
        (request.memory_gib ? " and " + std::to_string(*request.memory_gib) + " GiB" : "") +
        ", the pod needs " + std::to_string(request.gpus) + (request.gpus > 1 ? " of one server" : "") +
        (!request.node_local           ? ""
         : request.pinned_node.empty() ? " on a server whose node is known (gpupool.io/locality: node)"
                                       : " on node " + request.pinned_node + " (gpupool.io/locality: node)"));
  }
  Binding b;
  b.pool = pool;
  for (std::size_t i : chosen) {
    b.gpus.push_back(
        GpuBinding{fitting[i].server, fitting[i].uuid, request.percent, fitting[i].need_memory_bytes});
  }
  return b;
}

std::string Ledger::NodeOf(const std::string& pool, const std::string& server) const {
  std::lock_guard lock(mu_);
  auto pit = pools_.find(pool);
  if (pit == pools_.end()) return "";
  for (const PoolGpu& gpu : pit->second.gpus) {
    if (gpu.server == server) return gpu.node;
  }
  return "";
}

std::vector<GpuUsage> Ledger::Usage(const std::string& pool) const {
  std::lock_guard lock(mu_);
  std::vector<GpuUsage> out;
  auto pit = pools_.find(pool);
  if (pit == pools_.end()) return out;
  for (const PoolGpu& gpu : pit->second.gpus) {
    GpuUsage u{gpu};
    if (auto ait = allocs_.find(GpuKey{gpu.server, gpu.uuid}); ait != allocs_.end()) {
      u.allocated_percent = ait->second.percent;
      u.allocated_memory_bytes = ait->second.memory;
      u.pods = static_cast<int>(ait->second.pods.size());
    }
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace gpupool::placement
