#include "tests/support/fake_apiserver/storage.h"

#include <algorithm>

#include "tests/support/fake_apiserver/meta.h"

namespace gpupool::testing::fake {

Storage::Storage(std::chrono::milliseconds bookmark_interval, int default_watch_timeout_s)
    : bookmark_interval_(bookmark_interval), default_watch_timeout_s_(default_watch_timeout_s) {}

Reply Storage::Create(const KindInfo& k, const std::string& ns, Json obj) {
  if (!obj.is_object()) return BadRequest("the body of the request must be a JSON object");
  Json& md = obj["metadata"];
  if (md.is_null()) md = Json::object();
  if (!md.is_object()) return BadRequest("metadata must be an object");
  if (!Str(obj, "metadata", "resourceVersion").empty()) {
    return StatusReply(500, "InternalError", "resourceVersion should not be set on objects to be created");
  }
  std::string name = Str(obj, "metadata", "name");
  if (name.empty() && !Str(obj, "metadata", "generateName").empty()) {
    name = Str(obj, "metadata", "generateName").substr(0, 58) + RandomSuffix(5);
  }
  if (name.empty())
    return InvalidReply(k, "", "metadata.name", "Required value: name or generateName is required");
  std::string body_ns = Str(obj, "metadata", "namespace");
  if (k.namespaced) {
    if (!body_ns.empty() && body_ns != ns) {
      return BadRequest(
          "the namespace of the provided object does not match the namespace sent on the request");
    }
    md["namespace"] = ns;
  } else {
    md.erase("namespace");
  }
  md["name"] = name;
  obj["apiVersion"] = k.ApiVersion();
  obj["kind"] = k.kind;
  if (k.plural == "pods") {
    const Json& spec = obj.contains("spec") ? obj["spec"] : Json();
    if (!spec.is_object() || !spec.contains("containers") || !spec["containers"].is_array() ||
        spec["containers"].empty()) {
      return InvalidReply(k, name, "spec.containers", "Required value");
    }
    obj["status"] = {{"phase", "Pending"}};
  } else if (k.status_subresource) {
    obj.erase("status");
  }
  std::lock_guard lock(mu_);
  Objects& objects = objects_[&k];
  std::string key = StorageKey(k, ns, name);
  if (objects.count(key)) {
    return StatusReply(409, "AlreadyExists", k.QualifiedResource() + " \"" + name + "\" already exists",
                       {{"name", name}, {"group", k.group}, {"kind", k.plural}});
  }
  md["uid"] = NewUid();
  md["creationTimestamp"] = NowRfc3339();
  md.erase("deletionTimestamp");
  md.erase("deletionGracePeriodSeconds");
  md.erase("managedFields");
  md.erase("generateName");
  if (k.has_generation) {
    md["generation"] = 1;
  } else {
    md.erase("generation");
  }
  md["resourceVersion"] = std::to_string(++rv_);
  objects[key] = obj;
  Emit(k, "ADDED", obj, nullptr);
  return Reply{201, obj};
}

Reply Storage::Get(const KindInfo& k, const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  const Objects& objects = objects_[&k];
  auto it = objects.find(StorageKey(k, ns, name));
  if (it == objects.end()) return NotFound(k, name);
  return Reply{200, it->second};
}

Reply Storage::List(const KindInfo& k, const Filter& filter, const ListQuery& q) {
  std::lock_guard lock(mu_);
  long long snapshot_rv = rv_;
  std::string start_after;
  if (!q.continue_token.empty()) {
    size_t slash = q.continue_token.find('/');
    try {
      snapshot_rv = std::stoll(q.continue_token.substr(0, slash));
    } catch (...) {
      return BadRequest("invalid continue token");
    }
    if (slash == std::string::npos) return BadRequest("invalid continue token");
    start_after = q.continue_token.substr(slash + 1);
    if (snapshot_rv < compacted_) {
      return StatusReply(
          410, "Expired",
          "The provided continue parameter is too old to display a consistent list result. You "
          "can start a new list without the continue parameter.");
    }
  } else if (!q.resource_version.empty() && q.resource_version != "0") {
    long long want = 0;
    try {
      want = std::stoll(q.resource_version);
    } catch (...) {
      return BadRequest("invalid resourceVersion \"" + q.resource_version + "\"");
    }
    if (want > rv_) {
      Reply r = StatusReply(
          504, "Timeout",
          "Too large resource version: " + std::to_string(want) + ", current: " + std::to_string(rv_));
      r.retry_after_s = 1;
      return r;
    }
    bool exact = q.resource_version_match == "Exact" || (q.resource_version_match.empty() && q.limit > 0);
    if (exact) snapshot_rv = want;
  } else if (q.resource_version_match == "Exact") {
    return StatusReply(422, "Invalid",
                       "resourceVersionMatch: Forbidden: resourceVersionMatch \"Exact\" is "
                       "forbidden for resourceVersion \"" +
                           q.resource_version + "\"");
  }
  auto snapshot = SnapshotLocked(k, snapshot_rv);
  if (!snapshot.ok()) {
    return StatusReply(410, "Expired",
                       "too old resource version: " + std::to_string(snapshot_rv) + " (" +
                           std::to_string(compacted_ + 1) + ")");
  }
  Json items = Json::array();
  std::string last_key;
  bool more = false;
  long remaining = 0;
  for (auto it = snapshot->upper_bound(start_after); it != snapshot->end(); ++it) {
    if (!filter.Matches(it->second)) continue;
    if (q.limit > 0 && static_cast<long>(items.size()) >= q.limit) {
      more = true;
      ++remaining;
      continue;
    }
    Json item = it->second;
    if (k.builtin) {
      item.erase("apiVersion");
      item.erase("kind");
    }
    items.push_back(std::move(item));
    last_key = it->first;
  }
  Json meta = {{"resourceVersion", std::to_string(snapshot_rv)}};
  if (more) {
    meta["continue"] = std::to_string(snapshot_rv) + "/" + last_key;
    meta["remainingItemCount"] = remaining;
  }
  return Reply{200, Json{{"kind", k.kind + "List"},
                         {"apiVersion", k.ApiVersion()},
                         {"metadata", meta},
                         {"items", std::move(items)}}};
}

Reply Storage::Delete(const KindInfo& k, const std::string& ns, const std::string& name,
                      const Json& options) {
  std::lock_guard lock(mu_);
  Objects& objects = objects_[&k];
  std::string key = StorageKey(k, ns, name);
  auto it = objects.find(key);
  if (it == objects.end()) return NotFound(k, name);
  Json& cur = it->second;
  if (options.is_object() && options.contains("preconditions") && options["preconditions"].is_object()) {
    const Json& pre = options["preconditions"];
    std::string uid = pre.value("uid", ""), rv = pre.value("resourceVersion", "");
    if (!uid.empty() && uid != Str(cur, "metadata", "uid")) {
      return StatusReply(409, "Conflict",
                         "Precondition failed: UID in precondition: " + uid +
                             ", UID in object meta: " + Str(cur, "metadata", "uid"));
    }
    if (!rv.empty() && rv != Str(cur, "metadata", "resourceVersion")) {
      return StatusReply(409, "Conflict",
                         "Precondition failed: ResourceVersion in precondition: " + rv +
                             ", ResourceVersion in object meta: " + Str(cur, "metadata", "resourceVersion"));
    }
  }
  const Json& fin = cur["metadata"].contains("finalizers") ? cur["metadata"]["finalizers"] : Json();
  if (fin.is_array() && !fin.empty()) {
    if (!Str(cur, "metadata", "deletionTimestamp").empty()) return Reply{200, cur};
    Json old = cur;
    cur["metadata"]["deletionTimestamp"] = NowRfc3339();
    cur["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (k.has_generation) cur["metadata"]["generation"] = cur["metadata"].value("generation", 0) + 1;
    cur["metadata"]["resourceVersion"] = std::to_string(++rv_);
    Emit(k, "MODIFIED", cur, old);
    return Reply{200, cur};
  }
  return DeleteNowLocked(k, key, nullptr);
}

Reply Storage::DeleteNowLocked(const KindInfo& k, const std::string& key, Json last) {
  Objects& objects = objects_[&k];
  Json old = objects[key];
  objects.erase(key);
  if (last.is_null()) {
    last = old;
    last["metadata"]["resourceVersion"] = std::to_string(++rv_);
  }
  Emit(k, "DELETED", last, old);
  if (k.plural == "pods") return Reply{200, last};
  return Reply{200, Json{{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"metadata", Json::object()},
                         {"status", "Success"},
                         {"details",
                          {{"name", Str(old, "metadata", "name")},
                           {"group", k.group},
                           {"kind", k.plural},
                           {"uid", Str(old, "metadata", "uid")}}}}};
}

Result<Storage::Objects> Storage::SnapshotLocked(const KindInfo& k, long long rv) const {
  if (rv < compacted_) return Status::FailedPrecondition("compacted");
  auto found = objects_.find(&k);
  Objects snap = found == objects_.end() ? Objects{} : found->second;
  for (auto it = history_.rbegin(); it != history_.rend() && it->rv > rv; ++it) {
    if (it->kind != &k) continue;
    std::string key =
        StorageKey(k, Str(it->object, "metadata", "namespace"), Str(it->object, "metadata", "name"));
    if (it->type == "ADDED") {
      snap.erase(key);
    } else {
      snap[key] = it->old;
    }
  }
  return snap;
}

void Storage::Compact() {
  std::lock_guard lock(mu_);
  compacted_ = rv_;
  history_.clear();
}

long long Storage::ResourceVersion() const {
  std::lock_guard lock(mu_);
  return rv_;
}

}  // namespace gpupool::testing::fake
