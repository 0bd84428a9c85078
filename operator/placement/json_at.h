// JsonAt: read-only access to a JSON member that may be missing. nlohmann's const operator[] on a
// missing key is undefined behaviour (and trips GCC's -Wnull-dereference); this returns null instead.
//
// Thread-safety: pure function.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace gpupool::placement {

inline const nlohmann::json& JsonAt(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// The string member `key` of `j`, or "" (json::value(key, "") trips -Wnull-dereference too).
inline std::string JsonString(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = JsonAt(j, key);
  const auto* s = v.get_ptr<const std::string*>();
  return s != nullptr ? *s : std::string();
}

}  // namespace gpupool::placement
