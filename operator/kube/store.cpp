#include "operator/kube/store.h"

#include <set>

namespace gpupool::kube {

std::optional<Json> Store::Get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<Json> Store::List() const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) out.push_back(obj);
  return out;
}

std::vector<std::string> Store::Keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, obj] : objects_) out.push_back(key);
  return out;
}

size_t Store::Size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

std::optional<Json> Store::Upsert(const Json& obj) {
  std::lock_guard lock(mu_);
  std::string key = ObjectKey(obj);
  auto it = objects_.find(key);
  std::optional<Json> old;
  if (it != objects_.end()) old = std::move(it->second);
  objects_[key] = obj;
  return old;
}

std::optional<Json> Store::Remove(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  Json old = std::move(it->second);
  objects_.erase(it);
  return old;
}

std::vector<Json> Store::Replace(const std::vector<Json>& objs) {
  std::map<std::string, Json> next;
  for (const auto& o : objs) next[ObjectKey(o)] = o;
  std::lock_guard lock(mu_);
  std::vector<Json> gone;
  for (auto& [key, obj] : objects_) {
    if (!next.count(key)) gone.push_back(std::move(obj));
  }
  objects_ = std::move(next);
  return gone;
}

}  // namespace gpupool::kube
