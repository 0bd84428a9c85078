#include "operator/controllers/events.h"

#include <ctime>
#include <random>

#include "common/log.h"

namespace gpupool::controllers {

std::string NowRfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void EventRecorder::Record(const kube::Resource& kind, const kube::Json& object, const std::string& type,
                           const std::string& reason, const std::string& message) {
  const std::string uid = kube::UidOf(object);
  const std::string key = uid + "|" + reason + "|" + message;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    auto it = recent_.find(key);
    if (it != recent_.end() && now - it->second < window_) return;
    recent_[key] = now;
    if (recent_.size() > 10000) recent_.clear();  // a bound, not a cache policy
  }
  const std::string ns = kube::NamespaceOf(object).empty() ? "default" : kube::NamespaceOf(object);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(rng()));
  const std::string ts = NowRfc3339();
  kube::Json event = {{"apiVersion", "v1"},
                      {"kind", "Event"},
                      {"metadata", {{"name", kube::NameOf(object) + "." + suffix}, {"namespace", ns}}},
                      {"involvedObject",
                       {{"apiVersion", kind.ApiVersion()},
                        {"kind", kind.kind},
                        {"name", kube::NameOf(object)},
                        {"namespace", kube::NamespaceOf(object)},
                        {"uid", uid},
                        {"resourceVersion", kube::ResourceVersionOf(object)}}},
                      {"reason", reason},
                      {"message", message.size() > 1024 ? message.substr(0, 1021) + "..." : message},
                      {"type", type},
                      {"source", {{"component", "gpupool-operator"}}},
                      {"reportingComponent", "gpupool.io/operator"},
                      {"reportingInstance", instance_},
                      {"firstTimestamp", ts},
                      {"lastTimestamp", ts},
                      {"count", 1}};
  auto created = client_.Create(kube::Events(), ns, event);
  if (!created.ok()) {
    GPUPOOL_LOG_ONCE(kWarn, "event-write") << "cannot write Events: " << created.status().ToString();
    return;
  }
  std::lock_guard lock(mu_);
  ++written_;
}

long EventRecorder::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

}  // namespace gpupool::controllers
