// Storage: the fake API server's objects, global resourceVersion, event history and open watches.
// It implements the API semantics (k8s-api-facts §4, §5, §13); the HTTP layer only parses requests
// and writes answers. Every operation returns the HTTP code and body the API server would send.
//
// Thread-safety: one mutex guards everything; watch sinks are written under it, so each watcher
// sees events in strictly increasing resourceVersion order.
#pragma once

#include <chrono>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/fake_apiserver/kinds.h"
#include "tests/support/fake_apiserver/patch.h"
#include "tests/support/fake_apiserver/selectors.h"

namespace gpupool::testing::fake {

using Json = nlohmann::json;

struct Reply {
  int code = 200;
  Json body;
  int retry_after_s = 0;
  bool ok() const { return code < 300; }
};
// A Status object reply: {"kind":"Status",...,"reason":reason,"code":code}.
Reply StatusReply(int code, const std::string& reason, const std::string& message, Json details = nullptr);

// Where a watch's events go (the HTTP layer's chunked stream). Called with the storage lock held.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  virtual void Send(const Json& event) = 0;
  virtual void Close() = 0;
  virtual size_t Backlog() const = 0;  // bytes written but not yet taken by the connection
  virtual bool Gone() const = 0;       // nobody reads it any more (the client hung up)
};

struct ListQuery {
  std::string resource_version, resource_version_match, continue_token;
  long limit = 0;
};
struct WatchQuery {
  std::string resource_version, resource_version_match;
  bool allow_bookmarks = false, send_initial_events = false;
  int timeout_seconds = 0;  // 0 = server default
};

class Storage {
 public:
  Storage(std::chrono::milliseconds bookmark_interval, int default_watch_timeout_s);

  Reply Create(const KindInfo& k, const std::string& ns, Json obj);
  Reply Get(const KindInfo& k, const std::string& ns, const std::string& name);
  Reply List(const KindInfo& k, const Filter& filter, const ListQuery& q);
  // PUT; `from_patch` relaxes the resourceVersion-required rule (a PATCH never needs one).
  Reply Update(const KindInfo& k, const std::string& ns, const std::string& name, Json obj, bool status,
               bool from_patch = false);
  Reply Patch(const KindInfo& k, const std::string& ns, const std::string& name, PatchKind kind,
              const Json& patch, bool status);
  Reply Delete(const KindInfo& k, const std::string& ns, const std::string& name, const Json& options);
  // On success (200) the sink is registered and has already received the replayed events.
  Reply Watch(const KindInfo& k, const Filter& filter, const WatchQuery& q, std::shared_ptr<WatchSink> sink);

  // Bookmarks due, watch deadlines, and watchers whose backlog shows nobody reads them any more.
  void Tick();
  void Compact();
  void CloseWatches();
  size_t OpenWatches() const;
  long long ResourceVersion() const;

 private:
  struct Event {
    long long rv;
    const KindInfo* kind;
    std::string type;  // ADDED, MODIFIED, DELETED
    Json object;       // the new state (DELETED: last state with the deletion's resourceVersion)
    Json old;          // the state before (null for ADDED)
  };
  struct Watcher {
    const KindInfo* kind;
    Filter filter;
    bool bookmarks;
    std::shared_ptr<WatchSink> sink;
    std::chrono::steady_clock::time_point deadline, next_bookmark;
  };
  using Objects = std::map<std::string, Json>;

  Reply UpdateLocked(const KindInfo& k, const std::string& key, Json obj, bool status, bool from_patch);
  // Removes the object; `last` is the state the DELETED event reports (null: the stored object with
  // a new resourceVersion).
  Reply DeleteNowLocked(const KindInfo& k, const std::string& key, Json last);
  void Emit(const KindInfo& k, const std::string& type, const Json& object, const Json& old);
  static bool Deliver(const Watcher& w, const Event& e);
  Result<Objects> SnapshotLocked(const KindInfo& k, long long rv) const;
  Json Bookmark(const KindInfo& k) const;

  const std::chrono::milliseconds bookmark_interval_;
  const int default_watch_timeout_s_;
  mutable std::mutex mu_;
  long long rv_ = 1;         // like etcd, revision 1 exists before any object
  long long compacted_ = 1;  // events with rv <= compacted_ are forgotten
  std::map<const KindInfo*, Objects> objects_;
  std::deque<Event> history_;
  std::list<Watcher> watchers_;
};

}  // namespace gpupool::testing::fake
