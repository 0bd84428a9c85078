// Store: the informer's thread-safe cache of objects, keyed "<namespace>/<name>" (or "<name>").
//
// Reads come from memory and are eventually consistent: a write of yours shows up only when its
// watch event arrives (no read-your-writes). Returned objects are copies.
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/kube/client.h"

namespace gpupool::kube {

class Store {
 public:
  std::optional<Json> Get(const std::string& key) const;
  std::vector<Json> List() const;
  std::vector<std::string> Keys() const;
  size_t Size() const;

  // Writers (the informer). Return the previous object, if any.
  std::optional<Json> Upsert(const Json& obj);
  std::optional<Json> Remove(const std::string& key);
  // Replaces everything; returns the objects that were present and are not in `objs`.
  std::vector<Json> Replace(const std::vector<Json>& objs);

 private:
  mutable std::mutex mu_;
  std::map<std::string, Json> objects_;
};

}  // namespace gpupool::kube
