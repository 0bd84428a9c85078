// Client: the operator's view of the Kubernetes API (get/list/watch, create/update/patch/delete,
// status subresource). RestClient (rest_client.h) talks HTTP; tests run it against the in-process
// fake API server. Objects are nlohmann::json, round-tripped whole so unknown fields survive
// read-modify-write.
//
// Errors are typed as errors.h describes (IsNotFound, IsConflict, IsExpired, ...). Every call has a
// deadline (RestOptions::request_timeout); a watch has an inactivity deadline instead.
//
// Thread-safety: implementations must allow concurrent calls from many threads.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/kube/resource.h"
#include "common/status.h"

namespace gpupool::kube {

using Json = nlohmann::json;

struct ListOptions {
  std::string label_selector;          // "app=x,tier!=db,env in (a,b)"
  std::string field_selector;          // "metadata.name=x,spec.nodeName="
  std::string resource_version;        // "" = most recent; "0" = any; "N" = not older than N
  std::string resource_version_match;  // "", "Exact" or "NotOlderThan"
  int limit = 0;                       // page size; 0 = everything in one answer
  std::string continue_token;
  int timeout_seconds = 0;             // watch: the server ends the stream after this long
  bool allow_watch_bookmarks = false;  // watch only
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in kinds only)
};

struct DeleteOptions {
  std::optional<std::string> precondition_resource_version;
  std::optional<std::string> precondition_uid;
  std::optional<int> grace_period_seconds;
  std::string propagation_policy;  // "", "Background", "Foreground", "Orphan"
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  Json object;  // for kError: the Status object
};
std::string_view WatchEventTypeName(WatchEvent::Type type);

// One open watch. Next() blocks until an event arrives; nullopt means the server ended the stream
// cleanly (timeoutSeconds elapsed): re-watch from the last resourceVersion. A kError event carries
// the server's Status (convert with StatusFromStatusObject). Transport failures and inactivity
// timeouts are errors.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  virtual Result<std::optional<WatchEvent>> Next() = 0;
  // Ends the stream from any thread; a blocked Next() returns Cancelled promptly.
  virtual void Cancel() = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  virtual Result<Json> Get(const Resource& r, std::string_view ns, std::string_view name) = 0;
  // One page: the List object (items, metadata.resourceVersion, metadata.continue).
  virtual Result<Json> List(const Resource& r, std::string_view ns, const ListOptions& opts) = 0;
  // POST; the namespace comes from `ns` (the object's own must match or be empty).
  virtual Result<Json> Create(const Resource& r, std::string_view ns, const Json& obj) = 0;
  // PUT of the whole object (namespace and name from its metadata); conditional on its
  // metadata.resourceVersion when set.
  virtual Result<Json> Update(const Resource& r, const Json& obj) = 0;
  // PUT to the status subresource.
  virtual Result<Json> UpdateStatus(const Resource& r, const Json& obj) = 0;
  // PATCH the object, or its status subresource when `subresource` is "status".
  virtual Result<Json> Patch(const Resource& r, std::string_view ns, std::string_view name, PatchType type,
                             const Json& patch, std::string_view subresource = "") = 0;
  // The server's answer: the object (still there, with deletionTimestamp, when finalizers remain)
  // or a Status with status "Success".
  virtual Result<Json> Delete(const Resource& r, std::string_view ns, std::string_view name,
                              const DeleteOptions& opts = {}) = 0;
  virtual Result<std::unique_ptr<WatchStream>> Watch(const Resource& r, std::string_view ns,
                                                     const ListOptions& opts) = 0;
};

// Lists every page (following continue tokens, `page_size` items per request) and returns one List
// object whose items are all of them and whose metadata.resourceVersion is the first page's.
Result<Json> ListAll(Client& client, const Resource& r, std::string_view ns, ListOptions opts,
                     int page_size = 500);

}  // namespace gpupool::kube
