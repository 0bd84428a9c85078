// SharedState: what the pool controller and the binder share during one leadership term: the
// ledger, the Control address of each server, and the pods waiting for capacity. A new term starts
// from a fresh SharedState rebuilt from Kubernetes objects.
//
// Thread-safety: every member is internally synchronised.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "operator/controllers/control_client.h"
#include "operator/controllers/pool_status.h"
#include "operator/placement/ledger.h"

namespace gpupool::controllers {

// Data address -> Control API address, as the pools' specs say.
class ServerBook {
 public:
  void Set(const std::vector<PoolServer>& servers) {
    std::lock_guard lock(mu_);
    for (const PoolServer& s : servers) control_[s.address] = s.control;
  }
  std::vector<std::string> AllControl() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [data, control] : control_) out.push_back(control);
    return out;
  }
  std::string ControlOf(const std::string& data) const {
    std::lock_guard lock(mu_);
    auto it = control_.find(data);
    return it != control_.end() ? it->second : DefaultControlAddress(data);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> control_;
};

// Pods that wait for capacity, per pool.
class PendingPods {
 public:
  // True when this changed whether the pod is pending.
  bool Set(const std::string& pool, const std::string& key, const std::string& reason) {
    std::lock_guard lock(mu_);
    const bool added = pools_[pool].insert(key).second;
    reasons_[pool] = reason;
    pool_of_[key] = pool;
    return added;
  }
  // The pool the pod was pending in ("" when it was not).
  std::string Clear(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = pool_of_.find(key);
    if (it == pool_of_.end()) return "";
    std::string pool = it->second;
    pools_[pool].erase(key);
    pool_of_.erase(it);
    return pool;
  }
  Pending Snapshot(const std::string& pool) const {
    std::lock_guard lock(mu_);
    Pending p;
    auto it = pools_.find(pool);
    if (it == pools_.end()) return p;
    p.pods = static_cast<int>(it->second.size());
    for (const std::string& k : it->second) {
      if (p.examples.size() == 3) break;
      p.examples.push_back(k);
    }
    auto r = reasons_.find(pool);
    if (r != reasons_.end()) p.reason = r->second;
    return p;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::set<std::string>> pools_;
  std::map<std::string, std::string> reasons_;
  std::map<std::string, std::string> pool_of_;
};

struct SharedState {
  placement::Ledger ledger;
  ServerBook servers;
  PendingPods pending;
};

}  // namespace gpupool::controllers
