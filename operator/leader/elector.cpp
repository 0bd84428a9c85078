#include "operator/leader/elector.h"

#include <unistd.h>

#include <ctime>
#include <random>

#include "common/kube/errors.h"
#include "common/log.h"

namespace gpupool::leader {

using kube::Json;
using Clock = std::chrono::steady_clock;

namespace {

// metav1.MicroTime: "2026-01-01T00:00:00.000000Z".
std::string MicroTimeNow() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(us));
  return out;
}

std::string Holder(const Json& lease) {
  if (!lease.is_object() || !lease.contains("spec") || !lease["spec"].is_object()) return "";
  const auto* s = lease["spec"].contains("holderIdentity")
                      ? lease["spec"]["holderIdentity"].get_ptr<const std::string*>()
                      : nullptr;
  return s != nullptr ? *s : "";
}

Json SpecOf(const Json& lease) {
  return lease.is_object() && lease.contains("spec") && lease["spec"].is_object() ? lease["spec"]
                                                                                  : Json::object();
}

long long SpecInt(const Json& lease, const char* field) {
  if (!lease.is_object() || !lease.contains("spec") || !lease["spec"].is_object()) return 0;
  const Json& spec = lease["spec"];
  return spec.contains(field) && spec[field].is_number_integer() ? spec[field].get<long long>() : 0;
}

}  // namespace

std::string LeaderElector::DefaultIdentity() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::mt19937_64 rng{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(host) + "_" + suffix;
}

Result<std::unique_ptr<LeaderElector>> LeaderElector::Create(kube::Client& client, ElectionConfig config,
                                                             ElectionCallbacks callbacks) {
  if (config.lease_namespace.empty() || config.lease_name.empty()) {
    return Status::InvalidArgument("leader election needs a lease namespace and name");
  }
  if (config.identity.empty()) return Status::InvalidArgument("leader election needs an identity");
  if (config.lease_duration <= config.renew_deadline) {
    return Status::InvalidArgument("lease duration must be greater than the renew deadline");
  }
  if (config.renew_deadline.count() * 10 <= config.retry_period.count() * 12) {
    return Status::InvalidArgument("renew deadline must be greater than 1.2 x the retry period");
  }
  if (config.retry_period.count() <= 0) return Status::InvalidArgument("retry period must be positive");
  return std::unique_ptr<LeaderElector>(new LeaderElector(client, std::move(config), std::move(callbacks)));
}

LeaderElector::LeaderElector(kube::Client& client, ElectionConfig config, ElectionCallbacks callbacks)
    : client_(client), config_(std::move(config)), callbacks_(std::move(callbacks)) {}

LeaderElector::~LeaderElector() {
  Stop();
}

void LeaderElector::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string LeaderElector::Leader() const {
  std::lock_guard lock(mu_);
  return observed_holder_;
}

bool LeaderElector::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stop_; });
}

void LeaderElector::SetLeader(bool leading) {
  if (leading_.exchange(leading) == leading) return;
  if (leading) {
    GPUPOOL_LOG(kInfo) << "leader election: " << config_.identity << " leads " << config_.lease_namespace
                       << "/" << config_.lease_name;
    if (callbacks_.on_started_leading) callbacks_.on_started_leading();
  } else {
    GPUPOOL_LOG(kWarn) << "leader election: " << config_.identity << " is no longer the leader";
    if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
  }
}

void LeaderElector::Run() {
  std::mt19937_64 rng{std::random_device{}()};
  auto jittered = [&] {  // client-go: RetryPeriod x [1, 2.2) while acquiring
    double f = std::uniform_real_distribution<double>(1.0, 2.2)(rng);
    return std::chrono::milliseconds(
        static_cast<long long>(static_cast<double>(config_.retry_period.count()) * f));
  };
  auto last_renew = Clock::now();
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    bool ok = TryAcquireOrRenew();
    if (ok) {
      last_renew = Clock::now();
      SetLeader(true);
    } else if (leading_ &&
               (Clock::now() - last_renew >= config_.renew_deadline || Leader() != config_.identity)) {
      SetLeader(false);  // could not renew in time, or someone else holds the lease now
    }
    if (!SleepFor(leading_ ? config_.retry_period : jittered())) break;
  }
  if (leading_) {
    if (config_.release_on_cancel) Release();
    SetLeader(false);
  }
}

bool LeaderElector::TryAcquireOrRenew() {
  const std::string& ns = config_.lease_namespace;
  const std::string& name = config_.lease_name;
  long long duration_s = std::max<long long>(1, (config_.lease_duration.count() + 999) / 1000);
  std::string now = MicroTimeNow();
  auto got = client_.Get(kube::Leases(), ns, name);
  if (!got.ok()) {
    if (!kube::IsNotFound(got.status())) {
      GPUPOOL_LOG(kWarn) << "leader election: reading the lease: " << got.status().ToString();
      return false;
    }
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", name}, {"namespace", ns}}},
                  {"spec",
                   {{"holderIdentity", config_.identity},
                    {"leaseDurationSeconds", duration_s},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    auto created = client_.Create(kube::Leases(), ns, lease);
    if (!created.ok()) return false;
    std::lock_guard lock(mu_);
    observed_ = *created;
    observed_at_ = Clock::now();
    observed_holder_ = config_.identity;
    return true;
  }
  Json lease = *got;
  std::string holder = Holder(lease);
  bool changed;
  {
    std::lock_guard lock(mu_);
    changed = SpecOf(lease) != SpecOf(observed_);
    if (changed) {
      observed_ = lease;
      observed_at_ = Clock::now();
    }
    if (holder != observed_holder_) {
      observed_holder_ = holder;
      if (callbacks_.on_new_leader && !holder.empty()) callbacks_.on_new_leader(holder);
    }
  }
  bool mine = holder == config_.identity;
  long long held_for_s = SpecInt(lease, "leaseDurationSeconds");
  // Expiry on the local clock, from when this elector last saw the record change.
  if (!holder.empty() && !mine && observed_at_ + std::chrono::seconds(held_for_s) > Clock::now())
    return false;
  if (!lease["spec"].is_object()) lease["spec"] = Json::object();  // a malformed lease is taken over whole
  Json& spec = lease["spec"];
  if (!mine) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = SpecInt(lease, "leaseTransitions") + 1;  // as client-go: any change of holder
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = duration_s;
  spec["renewTime"] = now;
  auto updated = client_.Update(kube::Leases(), lease);  // carries the resourceVersion we read: 409 if raced
  if (!updated.ok()) {
    if (!kube::IsConflict(updated.status())) {
      GPUPOOL_LOG(kWarn) << "leader election: updating the lease: " << updated.status().ToString();
    }
    return false;
  }
  std::lock_guard lock(mu_);
  observed_ = *updated;
  observed_at_ = Clock::now();
  observed_holder_ = config_.identity;
  return true;
}

void LeaderElector::Release() {
  auto got = client_.Get(kube::Leases(), config_.lease_namespace, config_.lease_name);
  if (!got.ok() || Holder(*got) != config_.identity) return;
  Json lease = *got;
  std::string now = MicroTimeNow();
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["acquireTime"] = now;
  lease["spec"]["renewTime"] = now;
  auto released = client_.Update(kube::Leases(), lease);
  if (!released.ok()) {
    GPUPOOL_LOG(kWarn) << "leader election: releasing the lease: " << released.status().ToString();
  }
}

}  // namespace gpupool::leader
