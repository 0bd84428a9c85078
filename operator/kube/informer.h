// Informer: keeps a Store in sync with one resource (optionally one namespace / selector) by
// list + watch, as client-go's Reflector does, and tells handlers about adds, updates and deletes.
//
// - LIST (paged) then WATCH from the list's resourceVersion with allowWatchBookmarks; each event
//   updates the store and the last-synced resourceVersion (BOOKMARK only moves the version).
// - A watch that ends cleanly (server timeout) is resumed from the last resourceVersion, no relist.
// - 410 Expired/Gone (HTTP or ERROR event) -> relist; objects missing from the new list are
//   delivered as deletes, re-listed objects as updates (old, new).
// - Other failures (5xx, transport, 429) -> retry with backoff (800 ms .. 30 s by default), reset
//   after a watch that delivered events or lived longer than `backoff_reset`.
//
// Handlers run on the informer's own thread, one event at a time, in resourceVersion order; they
// should only enqueue work (they must not call Stop()).
//
// Thread-safety: Start/Stop from one owner thread; everything else from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/client.h"
#include "operator/kube/backoff.h"
#include "operator/kube/store.h"

namespace gpupool::kube {

struct EventHandlers {
  std::function<void(const Json& obj)> on_add;
  std::function<void(const Json& old_obj, const Json& new_obj)> on_update;
  std::function<void(const Json& last_known)> on_delete;
};

struct InformerOptions {
  std::string ns;  // "" = all namespaces (or a cluster-scoped kind)
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;
  int watch_timeout_seconds = 300;  // asked of the server per watch (client-go: 5..10 min)
  Backoff backoff = kInformerBackoff;
  std::chrono::milliseconds backoff_reset{std::chrono::minutes(2)};
};

struct InformerStats {
  long lists = 0;     // LIST requests started (pages count once)
  long watches = 0;   // WATCH requests started
  long relists = 0;   // lists caused by 410 Expired/Gone
  long failures = 0;  // errors that led to a backoff
  long bookmarks = 0;
};

class Informer {
 public:
  Informer(Client& client, Resource resource, InformerOptions options = {});
  ~Informer();  // Stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before Start(). Handlers are called for every object, including those of the initial list.
  void AddHandlers(EventHandlers handlers);
  void Start();
  // Cancels the open watch and joins the thread; idempotent.
  void Stop();

  // True once the first list has been delivered to the store and the handlers.
  bool HasSynced() const;
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  const Store& store() const { return store_; }
  std::string LastSyncedResourceVersion() const;
  InformerStats Stats() const;

 private:
  void Run();
  Status ListAndReplace();
  Status WatchOnce(bool& progressed);
  void Dispatch(const WatchEvent& event);
  bool SleepFor(std::chrono::milliseconds d);  // false when stopped

  Client& client_;
  const Resource resource_;
  const InformerOptions options_;
  std::vector<EventHandlers> handlers_;
  Store store_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stop_ = false;
  bool synced_ = false;
  bool need_relist_ = true;
  std::string last_rv_;
  InformerStats stats_;
  std::unique_ptr<WatchStream> watch_;  // the open watch, for Stop() to cancel
  std::thread thread_;
};

}  // namespace gpupool::kube
