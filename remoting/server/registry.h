// Registry: the broker's state — live sessions (with their shared counters) and pod admissions.
// The accept path adds sessions, the reaper removes them, the Control service and /metrics read it.
//
// Thread-safety: every method is safe from any thread (one mutex).
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "remoting/server/ipc_directory.h"
#include "remoting/server/session_stats.h"
#include "remoting/server/session_totals.h"
#include "remoting/server/share_table.h"
#include "remoting/server/stat_reasons.h"

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
  // What the session was admitted to: the pod's shares of this server's GPUs, in device order, or
  // one with an empty uuid (no GPU in particular: the server's defaults over every GPU it sees). The
  // broker publishes it into `stats` (SessionStats::gpus), which every reader uses from then on.
  std::vector<ShareRecord> gpus;
  std::int64_t started_unix_ms = 0;
  std::shared_ptr<SharedStats> stats;  // the worker's live counters, and its GPUs' ShareTable slots
};

// Gives back the ShareTable slots the broker claimed for a session (SessionGpu::share_slot).
void ReleaseShareSlots(ShareTable& table, const SessionStats& stats);

// The broker's own event counters (the sessions' counters are SessionTotals).
struct ServerCounters {
  std::uint64_t sessions_started = 0;
  std::array<std::uint64_t, kSessionEndCount> sessions_ended{};  // by SessionEnd
  std::array<std::uint64_t, kProtocolErrorCount> protocol_errors{};
  std::array<std::uint64_t, kAuthFailureCount> auth_failures{};
};

class Registry {
 public:
  std::uint64_t NextSessionId();
  // The workers' ShareTable: AddSession's caller claims a slot, RemoveSession gives it back.
  void SetShareTable(ShareTable* table) { shares_ = table; }
  ShareTable* share_table() const { return shares_; }
  // The workers' IpcDirectory: RemoveSession withdraws what the session's worker left there.
  void SetIpcDirectory(IpcDirectory* directory) { ipc_ = directory; }
  IpcDirectory* ipc_directory() const { return ipc_; }
  // Held while a worker is started and added, and by the reaper before RemoveSession, so a worker
  // that exits at once is never reaped before its record exists.
  std::mutex& spawn_mutex() { return spawn_mu_; }
  void AddSession(SessionRecord record);
  // The reaper: the worker `pid` exited. Counts why the session ended (what the worker left in its
  // SessionStats; a worker that left nothing crashed, unless the broker had asked it to end) and
  // keeps its counters. Returns the session's id, 0 when it was no session's worker.
  std::uint64_t RemoveSession(pid_t pid);
  std::vector<SessionRecord> Sessions() const;
  // Counters of ended sessions by the GPU they ran on (SessionGpu::uuid; "" for the default).
  std::map<std::string, SessionTotals> ended() const;
  ServerCounters counters() const;
  // The broker refused a connection (handshake thread).
  void CountProtocolError(ProtocolError why);
  void CountAuthFailure(AuthFailure why);

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
  std::map<std::string, SessionTotals> ended_;
  ServerCounters counters_;
  std::map<std::string, AdmissionRecord> admissions_;
  ShareTable* shares_ = nullptr;
  IpcDirectory* ipc_ = nullptr;
};

std::int64_t NowUnixMs();

}  // namespace gpupool::server
