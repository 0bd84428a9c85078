#include "operator/controllers/events.h"

#include <chrono>
#include <random>
#include <vector>

#include "common/log.h"
#include "common/units.h"

namespace gpupool::controllers {
namespace {

constexpr std::size_t kMaxSeries = 10000;  // a bound on memory, not a cache policy

// "<object>.<16 hex>", unique enough that two recorders never collide (client-go uses UnixNano).
std::string EventName(const std::string& object) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(rng()));
  return object + "." + suffix;
}

}  // namespace

std::string NowRfc3339() {
  return FormatRfc3339(std::chrono::system_clock::now());
}

void EventRecorder::Record(const kube::Resource& kind, const kube::Json& object, const std::string& type,
                           const std::string& reason, const std::string& message) {
  const std::string uid = kube::UidOf(object);
  const std::string key = uid + "|" + type + "|" + reason + "|" + message;
  const auto now = std::chrono::steady_clock::now();
  const std::string ts = NowRfc3339();
  {
    std::lock_guard lock(mu_);
    auto it = series_.find(key);
    if (it != series_.end() &&
        (it->second.in_flight || now - it->second.last_seen < options_.series_window)) {
      Series& s = it->second;  // a repeat: counted, written when due
      ++s.count;
      s.last_seen = now;
      s.last_timestamp = ts;
      if (s.in_flight || now - s.last_write < options_.min_update) return;
      s.in_flight = true;
    } else {
      if (series_.size() >= kMaxSeries) {
        for (auto i = series_.begin(); i != series_.end();)
          i = i->second.in_flight ? std::next(i) : series_.erase(i);
      }
      const std::string ns = kube::NamespaceOf(object).empty() ? "default" : kube::NamespaceOf(object);
      Series s;
      s.ns = ns;
      s.name = EventName(kube::NameOf(object));
      kube::Json involved = {{"apiVersion", kind.ApiVersion()},
                             {"kind", kind.kind},
                             {"name", kube::NameOf(object)},
                             {"namespace", kube::NamespaceOf(object)},
                             {"uid", uid}};
      if (!kube::ResourceVersionOf(object).empty())
        involved["resourceVersion"] = kube::ResourceVersionOf(object);
      const kube::Json event = {
          {"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", s.name}, {"namespace", ns}}},
          {"involvedObject", std::move(involved)},
          {"reason", reason},
          {"message", message.size() > 1024 ? message.substr(0, 1021) + "..." : message},
          {"type", type},
          {"source", {{"component", "gpupool-operator"}}},
          {"reportingComponent", "gpupool.io/operator"},
          {"reportingInstance", instance_},
          {"firstTimestamp", ts},
          {"lastTimestamp", ts},
          {"count", 1}};
      s.event = event.dump();
      s.last_timestamp = ts;
      s.last_seen = now;
      s.in_flight = true;
      series_[key] = std::move(s);
    }
  }
  Write(key);
}

void EventRecorder::Write(const std::string& key) {
  while (true) {
    kube::Json body;
    std::string ns, name;
    int count = 0;
    bool create = false;
    {
      std::lock_guard lock(mu_);
      auto it = series_.find(key);
      if (it == series_.end()) return;
      Series& s = it->second;
      if (s.written_count == s.count) {
        s.in_flight = false;
        return;
      }
      create = s.written_count == 0;
      count = s.count;
      ns = s.ns;
      name = s.name;
      body = create ? kube::Json::parse(s.event) : kube::Json::object();
      body["count"] = count;
      body["lastTimestamp"] = s.last_timestamp;
    }
    Result<kube::Json> written = create
                                     ? client_.Create(kube::Events(), ns, body)
                                     : client_.Patch(kube::Events(), ns, name, kube::PatchType::kMerge, body);
    std::lock_guard lock(mu_);
    Series& s = series_.at(key);  // in flight: nobody erased it
    if (!written.ok()) {
      if (!create && written.status().code() == Code::kNotFound) {
        s.written_count = 0;  // expired or deleted meanwhile: a new Event carries the count on
        kube::Json event = kube::Json::parse(s.event);
        s.name = EventName(event["involvedObject"].value("name", std::string()));
        event["metadata"]["name"] = s.name;
        s.event = event.dump();
        continue;
      }
      GPUPOOL_LOG_ONCE(kWarn, "event-write") << "cannot write Events: " << written.status().ToString();
      if (create) {
        series_.erase(key);  // the next occurrence tries a create again
      } else {
        s.in_flight = false;  // the count waits for the next repeat or FlushDue
      }
      return;
    }
    ++written_;
    s.written_count = count;
    s.last_write = std::chrono::steady_clock::now();
    if (s.count == s.written_count || options_.min_update.count() > 0) {
      s.in_flight = false;  // repeats counted meanwhile are due after min_update
      return;
    }
  }
}

void EventRecorder::FlushDue() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> due;
  {
    std::lock_guard lock(mu_);
    for (auto it = series_.begin(); it != series_.end();) {
      Series& s = it->second;
      if (s.in_flight) {
        ++it;
      } else if (s.count > s.written_count && now - s.last_write >= options_.min_update) {
        s.in_flight = true;
        due.push_back(it->first);
        ++it;
      } else if (now - s.last_seen >= options_.series_window) {
        it = series_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const std::string& key : due) Write(key);
}

long EventRecorder::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

}  // namespace gpupool::controllers
