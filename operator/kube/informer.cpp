#include "operator/kube/informer.h"

#include <map>

#include "common/kube/errors.h"
#include "common/log.h"

namespace gpupool::kube {

Informer::Informer(Client& client, Resource resource, InformerOptions options)
    : client_(client), resource_(std::move(resource)), options_(std::move(options)) {}

Informer::~Informer() {
  Stop();
}

void Informer::AddHandlers(EventHandlers handlers) {
  handlers_.push_back(std::move(handlers));
}

void Informer::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    if (watch_) watch_->Cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Informer::HasSynced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return synced_ || stop_; });
  return synced_;
}

std::string Informer::LastSyncedResourceVersion() const {
  std::lock_guard lock(mu_);
  return last_rv_;
}

InformerStats Informer::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool Informer::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stop_; });
}

void Informer::Run() {
  int failures = 0;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    Status s;
    bool progressed = false;
    auto started = std::chrono::steady_clock::now();
    if (need_relist_) {
      s = ListAndReplace();
      if (s.ok()) {
        need_relist_ = false;
        continue;
      }
    } else {
      s = WatchOnce(progressed);
      bool long_lived = std::chrono::steady_clock::now() - started >= options_.backoff_reset;
      if (progressed || long_lived) failures = 0;
      if (s.ok() && (progressed || long_lived)) continue;  // ended cleanly: resume from the last version
      if (s.ok()) s = Status::Unavailable("watch ended at once without events");
      if (IsExpired(s)) {
        std::lock_guard lock(mu_);
        ++stats_.relists;
        need_relist_ = true;
      } else if (!IsTooManyRequests(s) && s.code() != Code::kUnavailable &&
                 s.code() != Code::kDeadlineExceeded) {
        need_relist_ = true;  // client-go relists after anything but throttling or a lost connection
      }
    }
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      ++stats_.failures;
    }
    auto delay = options_.backoff.Delay(failures++);
    GPUPOOL_LOG(kWarn) << "informer " << resource_.plural << ": " << s.ToString() << "; retrying in "
                       << delay.count() << " ms";
    if (!SleepFor(delay)) return;
  }
}

Status Informer::ListAndReplace() {
  ListOptions opts;
  opts.label_selector = options_.label_selector;
  opts.field_selector = options_.field_selector;
  {
    std::lock_guard lock(mu_);
    opts.resource_version = last_rv_;  // "not older than what we saw"; "" = most recent
    ++stats_.lists;
  }
  // A specific version and paging together would mean "exactly that version" (410 when compacted).
  int page = opts.resource_version.empty() ? options_.page_size : 0;
  auto list = page > 0 ? ListAll(client_, resource_, options_.ns, opts, page)
                       : client_.List(resource_, options_.ns, opts);
  if (!list.ok() && IsExpired(list.status()) && !opts.resource_version.empty()) {
    opts.resource_version.clear();
    list = ListAll(client_, resource_, options_.ns, opts, options_.page_size);
  }
  if (!list.ok()) return list.status();
  std::vector<Json> items;
  if (list->contains("items") && (*list)["items"].is_array()) {
    for (auto& item : (*list)["items"]) {
      if (!item.contains("kind")) item["kind"] = resource_.kind;  // built-in lists omit them
      if (!item.contains("apiVersion")) item["apiVersion"] = resource_.ApiVersion();
      items.push_back(std::move(item));
    }
  }
  std::map<std::string, Json> before;
  for (auto& obj : store_.List()) before[ObjectKey(obj)] = std::move(obj);
  std::vector<Json> gone = store_.Replace(items);
  for (const Json& obj : items) {
    auto it = before.find(ObjectKey(obj));
    for (const auto& h : handlers_) {
      if (it == before.end()) {
        if (h.on_add) h.on_add(obj);
      } else if (h.on_update) {
        h.on_update(it->second, obj);
      }
    }
  }
  for (const Json& obj : gone) {
    for (const auto& h : handlers_) {
      if (h.on_delete) h.on_delete(obj);
    }
  }
  std::lock_guard lock(mu_);
  last_rv_ = ResourceVersionOf(*list);
  synced_ = true;
  cv_.notify_all();
  return Status::Ok();
}

Status Informer::WatchOnce(bool& progressed) {
  ListOptions opts;
  opts.label_selector = options_.label_selector;
  opts.field_selector = options_.field_selector;
  opts.allow_watch_bookmarks = true;
  opts.timeout_seconds = options_.watch_timeout_seconds;
  {
    std::lock_guard lock(mu_);
    opts.resource_version = last_rv_;
    ++stats_.watches;
  }
  auto opened = client_.Watch(resource_, options_.ns, opts);
  if (!opened.ok()) return opened.status();
  WatchStream* stream = opened->get();
  {
    std::lock_guard lock(mu_);
    if (stop_) return Status::Cancelled("informer stopped");
    watch_ = std::move(*opened);
  }
  Status result;
  while (true) {
    auto next = stream->Next();
    if (!next.ok()) {
      result = next.status();
      break;
    }
    if (!next->has_value()) break;  // the server closed the watch (timeoutSeconds)
    const WatchEvent& event = **next;
    if (event.type == WatchEvent::Type::kError) {
      result = StatusFromStatusObject(event.object);
      break;
    }
    Dispatch(event);
    progressed = true;
  }
  std::lock_guard lock(mu_);
  watch_.reset();
  return result;
}

void Informer::Dispatch(const WatchEvent& event) {
  std::string rv = ResourceVersionOf(event.object);
  switch (event.type) {
    case WatchEvent::Type::kBookmark: {
      std::lock_guard lock(mu_);
      ++stats_.bookmarks;
      break;
    }
    case WatchEvent::Type::kAdded:
    case WatchEvent::Type::kModified: {
      std::optional<Json> old = store_.Upsert(event.object);
      for (const auto& h : handlers_) {
        if (old && h.on_update) h.on_update(*old, event.object);
        if (!old && h.on_add) h.on_add(event.object);
      }
      break;
    }
    case WatchEvent::Type::kDeleted: {
      store_.Remove(ObjectKey(event.object));
      for (const auto& h : handlers_) {
        if (h.on_delete) h.on_delete(event.object);
      }
      break;
    }
    case WatchEvent::Type::kError: break;
  }
  if (!rv.empty()) {
    std::lock_guard lock(mu_);
    last_rv_ = rv;
  }
}

}  // namespace gpupool::kube
