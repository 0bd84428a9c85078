#include "operator/controllers/server_health.h"

namespace gpupool::controllers {

ServerHealth::Verdict ServerHealth::Observe(const std::string& server, bool answered, Clock::time_point now,
                                            const std::string& wall, const Published& published) {
  std::lock_guard lock(mu_);
  auto [it, first] = servers_.try_emplace(server, Track{now, "", published.failed});
  Track& t = it->second;
  Verdict v;
  if (answered) {
    v.recovered = t.failed;
    t = Track{now, "", false};
    return v;
  }
  if (t.since.empty()) t.since = first && !published.since.empty() ? published.since : wall;
  if (!t.failed && now - t.last_answer >= unhealthy_after_) t.failed = true;
  v.failed = t.failed;
  v.since = t.since;
  if (!t.failed) {
    v.recheck = std::chrono::ceil<std::chrono::milliseconds>(t.last_answer + unhealthy_after_ - now);
  }
  return v;
}

}  // namespace gpupool::controllers
