// Storage: watches (k8s-api-facts §5.1-5.3, §13 items 10-14): replay from a resourceVersion,
// synthetic ADDED for "" / "0", 410 Expired as an ERROR event after compaction, bookmarks,
// selector transitions, server-side timeouts.
#include "tests/support/fake_apiserver/meta.h"
#include "tests/support/fake_apiserver/storage.h"

namespace gpupool::testing::fake {
namespace {

constexpr size_t kHistoryLimit = 500000;       // older events are compacted away
constexpr size_t kMaxBacklogBytes = 64 << 20;  // a watcher this far behind is dropped (nobody reads it)

Json Line(const std::string& type, const Json& object) {
  return Json{{"type", type}, {"object", object}};
}

}  // namespace

bool Storage::Deliver(const Watcher& w, const Event& e) {
  if (w.kind != e.kind) return false;
  bool now = w.filter.Matches(e.object);
  bool before = !e.old.is_null() && w.filter.Matches(e.old);
  if (e.type == "ADDED") {
    if (now) w.sink->Send(Line("ADDED", e.object));
  } else if (e.type == "DELETED") {
    if (before || now) w.sink->Send(Line("DELETED", e.object));
  } else if (before && now) {
    w.sink->Send(Line("MODIFIED", e.object));
  } else if (now) {
    w.sink->Send(Line("ADDED", e.object));
  } else if (before) {
    w.sink->Send(Line("DELETED", e.object));
  }
  return true;
}

void Storage::Emit(const KindInfo& k, const std::string& type, const Json& object, const Json& old) {
  Event e{rv_, &k, type, object, old};
  for (const Watcher& w : watchers_) Deliver(w, e);
  history_.push_back(std::move(e));
  while (history_.size() > kHistoryLimit) {
    compacted_ = history_.front().rv;
    history_.pop_front();
  }
}

Json Storage::Bookmark(const KindInfo& k) const {
  return Line("BOOKMARK", Json{{"kind", k.kind},
                               {"apiVersion", k.ApiVersion()},
                               {"metadata", {{"resourceVersion", std::to_string(rv_)}}}});
}

Reply Storage::Watch(const KindInfo& k, const Filter& filter, const WatchQuery& q,
                     std::shared_ptr<WatchSink> sink) {
  if (q.send_initial_events && q.resource_version_match != "NotOlderThan") {
    return StatusReply(
        422, "Invalid",
        "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch "
        "to NotOlderThan");
  }
  if (!q.send_initial_events && !q.resource_version_match.empty()) {
    return StatusReply(422, "Invalid",
                       "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless "
                       "sendInitialEvents is provided");
  }
  long long from = 0;
  bool initial = q.send_initial_events || q.resource_version.empty() || q.resource_version == "0";
  if (!initial) {
    try {
      from = std::stoll(q.resource_version);
    } catch (...) {
      return BadRequest("invalid resourceVersion \"" + q.resource_version + "\"");
    }
  }
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  Watcher w{&k,
            filter,
            q.allow_bookmarks,
            sink,
            now + std::chrono::seconds(q.timeout_seconds > 0 ? q.timeout_seconds : default_watch_timeout_s_),
            now + bookmark_interval_};
  if (initial) {
    for (const auto& [key, obj] : objects_[&k]) {
      if (filter.Matches(obj)) sink->Send(Line("ADDED", obj));
    }
    if (q.send_initial_events && q.allow_bookmarks) {
      Json b = Bookmark(k);
      b["object"]["metadata"]["annotations"] = {{"k8s.io/initial-events-end", "true"}};
      sink->Send(b);
    }
  } else if (from < compacted_) {
    sink->Send(Line("ERROR", StatusReply(410, "Expired",
                                         "too old resource version: " + std::to_string(from) + " (" +
                                             std::to_string(compacted_ + 1) + ")")
                                 .body));
    sink->Close();
    return Reply{200, nullptr};
  } else {
    for (const Event& e : history_) {
      if (e.rv > from) Deliver(w, e);
    }
  }
  watchers_.push_back(std::move(w));
  return Reply{200, nullptr};
}

void Storage::Tick() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    bool expired = now >= it->deadline;
    if (it->bookmarks && (expired || now >= it->next_bookmark)) {
      it->sink->Send(Bookmark(*it->kind));
      it->next_bookmark = now + bookmark_interval_;
    }
    if (expired || it->sink->Gone() || it->sink->Backlog() > kMaxBacklogBytes) {
      it->sink->Close();
      it = watchers_.erase(it);
    } else {
      ++it;
    }
  }
}

void Storage::CloseWatches() {
  std::lock_guard lock(mu_);
  for (Watcher& w : watchers_) w.sink->Close();
  watchers_.clear();
}

size_t Storage::OpenWatches() const {
  std::lock_guard lock(mu_);
  return watchers_.size();
}

}  // namespace gpupool::testing::fake
