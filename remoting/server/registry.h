// Registry: the broker's state — live sessions (with their shared counters) and pod admissions.
// The accept path adds sessions, the reaper removes them, the Control service and /metrics read it.
//
// Thread-safety: every method is safe from any thread (one mutex).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "remoting/server/session_stats.h"
#include "remoting/server/share_table.h"

namespace gpupool::server {

struct ShareRecord {
  std::string gpu_uuid;
  std::uint32_t percent = 0;
  std::uint64_t memory_bytes = 0;
};

struct AdmissionRecord {
  std::string pod_uid;
  std::string pod_namespace;
  std::string pod_name;
  std::vector<ShareRecord> shares;
  std::int64_t admitted_unix_ms = 0;
};

struct SessionRecord {
  std::uint64_t id = 0;
  pid_t pid = -1;
  std::string pod_uid, pod_namespace, pod_name;
  std::string peer;
  std::string process;
  std::string gpu_uuid;
  std::uint32_t percent = 0;
  std::int64_t started_unix_ms = 0;
  std::shared_ptr<SharedStats> stats;  // the worker's live counters
  std::uint32_t share_slot = ShareTable::kNoSlot;
};

// Counters of sessions that have ended (live ones are read from their SessionStats).
struct EndedTotals {
  std::uint64_t sessions = 0;
  std::uint64_t bytes_to_device = 0;
  std::uint64_t bytes_from_device = 0;
  std::uint64_t kernels_launched = 0;
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> busy_ns_by_gpu;  // "" for sessions without an admitted GPU
};

class Registry {
 public:
  std::uint64_t NextSessionId();
  // The workers' ShareTable: AddSession's caller claims a slot, RemoveSession gives it back.
  void SetShareTable(ShareTable* table) { shares_ = table; }
  ShareTable* share_table() const { return shares_; }
  // Held while a worker is started and added, and by the reaper before RemoveSession, so a worker
  // that exits at once is never reaped before its record exists.
  std::mutex& spawn_mutex() { return spawn_mu_; }
  void AddSession(SessionRecord record);
  // The reaper: the worker `pid` exited. Returns the session's id, 0 when it was no session's worker.
  std::uint64_t RemoveSession(pid_t pid);
  std::vector<SessionRecord> Sessions() const;
  EndedTotals ended() const;

  void Admit(AdmissionRecord admission);
  std::optional<AdmissionRecord> FindAdmission(const std::string& pod_uid) const;
  std::vector<AdmissionRecord> Admissions() const;
  // Removes the admission and ends the pod's sessions (their clients get `reason`); returns how many.
  std::uint32_t Revoke(const std::string& pod_uid, const std::string& reason);
  // Ends every session (server shutdown).
  void EndAll();

 private:
  static constexpr std::chrono::seconds kEndGrace{10};
  // Asks a worker to end (why: SessionStats::kRevoked / kServerStopping); mu_ held.
  void End(pid_t pid, SessionRecord& s, std::uint32_t why, const std::string& reason);

  std::mutex spawn_mu_;
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::map<pid_t, SessionRecord> sessions_;
  EndedTotals ended_;
  std::map<std::string, AdmissionRecord> admissions_;
  ShareTable* shares_ = nullptr;
};

std::int64_t NowUnixMs();

}  // namespace gpupool::server
