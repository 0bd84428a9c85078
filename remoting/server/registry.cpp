#include "remoting/server/registry.h"

#include <signal.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace gpupool::server {

namespace {

SessionEnd EndReason(const SessionStats& stats) {
  std::uint32_t said = stats.end_reason.load();
  if (said != 0 && said < kSessionEndCount) return static_cast<SessionEnd>(said);
  // A worker stuck in the driver that the broker had to kill after asking it to end.
  if (stats.revoked.load() == SessionStats::kRevoked) return SessionEnd::kRevoked;
  if (stats.revoked.load() == SessionStats::kServerStopping) return SessionEnd::kServerStopping;
  // Killed by a signal, or exited before it could say why.
  return SessionEnd::kWorkerCrashed;
}

}  // namespace

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t Registry::NextSessionId() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_id_++;
}

void Registry::AddSession(SessionRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.sessions_started;
  pid_t pid = record.pid;
  sessions_[pid] = std::move(record);
}

std::uint64_t Registry::RemoveSession(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(pid);
  if (it == sessions_.end()) return 0;
  std::uint64_t id = it->second.id;
  const SessionStats& stats = *it->second.stats->get();
  ++counters_.sessions_ended[static_cast<std::size_t>(EndReason(stats))];
  if (stats.end_reason.load() == static_cast<std::uint32_t>(SessionEnd::kProtocolError)) {
    std::uint32_t why = stats.protocol_error.load();
    ++counters_.protocol_errors[why < kProtocolErrorCount ? why : 0];
  }
  for (std::uint32_t i = 0; i < stats.gpu_count(); ++i)
    ended_[std::string(stats.gpus[i].Uuid())].Add(SessionTotals::Of(stats, i));
  if (shares_ != nullptr) ReleaseShareSlots(*shares_, stats);
  if (ipc_ != nullptr) ipc_->WithdrawSession(id);
  sessions_.erase(it);
  return id;
}

void ReleaseShareSlots(ShareTable& table, const SessionStats& stats) {
  for (std::uint32_t i = 0; i < stats.gpu_count(); ++i) table.Release(stats.gpus[i].share_slot);
}

std::map<std::string, SessionTotals> Registry::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

ServerCounters Registry::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void Registry::CountProtocolError(ProtocolError why) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.protocol_errors[static_cast<std::size_t>(why)];
}

void Registry::CountAuthFailure(AuthFailure why) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.auth_failures[static_cast<std::size_t>(why)];
}

std::vector<SessionRecord> Registry::Sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SessionRecord> out;
  for (const auto& [pid, s] : sessions_) out.push_back(s);
  return out;
}

void Registry::Admit(AdmissionRecord admission) {
  std::lock_guard<std::mutex> lock(mu_);
  admission.admitted_unix_ms = NowUnixMs();
  std::string uid = admission.pod_uid;
  admissions_[uid] = std::move(admission);
}

std::optional<AdmissionRecord> Registry::FindAdmission(const std::string& pod_uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = admissions_.find(pod_uid);
  if (it == admissions_.end()) return std::nullopt;
  return it->second;
}

std::vector<AdmissionRecord> Registry::Admissions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AdmissionRecord> out;
  for (const auto& [uid, a] : admissions_) out.push_back(a);
  return out;
}

void Registry::End(pid_t pid, SessionRecord& s, std::uint32_t why, const std::string& reason) {
  SessionStats* stats = s.stats->get();
  std::strncpy(stats->revoke_reason, reason.c_str(), sizeof stats->revoke_reason - 1);
  stats->revoked = why;
  ::kill(pid, SIGTERM);  // the worker says why and ends; the reaper removes the record
  // A worker stuck in a driver call (a kernel that never ends) cannot answer SIGTERM: kill it.
  std::thread([this, pid] {
    std::this_thread::sleep_for(kEndGrace);
    std::lock_guard<std::mutex> lock(mu_);
    if (sessions_.count(pid) != 0) ::kill(pid, SIGKILL);
  }).detach();
}

std::uint32_t Registry::Revoke(const std::string& pod_uid, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  admissions_.erase(pod_uid);
  std::uint32_t ended = 0;
  for (auto& [pid, s] : sessions_) {
    if (s.pod_uid != pod_uid) continue;
    End(pid, s, SessionStats::kRevoked, reason);
    ++ended;
  }
  return ended;
}

void Registry::EndAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [pid, s] : sessions_) End(pid, s, SessionStats::kServerStopping, "server stopping");
}

}  // namespace gpupool::server
