#include "common/kube/client.h"

namespace gpupool::kube {

std::string_view WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded: return "ADDED";
    case WatchEvent::Type::kModified: return "MODIFIED";
    case WatchEvent::Type::kDeleted: return "DELETED";
    case WatchEvent::Type::kBookmark: return "BOOKMARK";
    case WatchEvent::Type::kError: return "ERROR";
  }
  return "UNKNOWN";
}

Result<Json> ListAll(Client& client, const Resource& r, std::string_view ns, ListOptions opts,
                     int page_size) {
  opts.limit = page_size;
  opts.continue_token.clear();
  Json all;
  Json items = Json::array();
  while (true) {
    GPUPOOL_ASSIGN_OR_RETURN(Json page, client.List(r, ns, opts));
    if (all.is_null()) all = page;
    if (page.contains("items") && page["items"].is_array()) {
      for (auto& item : page["items"]) items.push_back(std::move(item));
    }
    std::string next;
    if (page.contains("metadata") && page["metadata"].is_object() && page["metadata"].contains("continue") &&
        page["metadata"]["continue"].is_string()) {
      next = page["metadata"]["continue"].get<std::string>();
    }
    if (next.empty()) break;
    opts.continue_token = next;
    opts.resource_version.clear();  // the continue token carries the snapshot
    opts.resource_version_match.clear();
  }
  all["items"] = std::move(items);
  if (all.contains("metadata") && all["metadata"].is_object()) all["metadata"].erase("continue");
  return all;
}

}  // namespace gpupool::kube
