#include "tests/support/fake_apiserver/meta.h"

#include <chrono>
#include <ctime>
#include <mutex>
#include <random>

#include "common/units.h"

namespace gpupool::testing::fake {
namespace {

std::mt19937_64& Rng() {
  static std::mt19937_64 rng{std::random_device{}()};
  return rng;
}
std::mutex rng_mu;

}  // namespace

std::string NewUid() {
  std::lock_guard lock(rng_mu);
  std::uniform_int_distribution<int> d(0, 15);
  std::string s = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char& c : s) {
    if (c == 'x' || c == 'y') {
      int v = d(Rng());
      if (c == 'y') v = (v & 0x3) | 0x8;
      c = "0123456789abcdef"[v];
    }
  }
  return s;
}

std::string NowRfc3339() {
  return Rfc3339(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
}

std::string Rfc3339(std::int64_t unix_seconds) {
  return FormatRfc3339(std::chrono::system_clock::from_time_t(static_cast<std::time_t>(unix_seconds)));
}

std::string RandomSuffix(int n) {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::lock_guard lock(rng_mu);
  std::uniform_int_distribution<int> d(0, sizeof kAlphabet - 2);
  std::string s;
  for (int i = 0; i < n; ++i) s += kAlphabet[d(Rng())];
  return s;
}

std::string StorageKey(const KindInfo& k, const std::string& ns, const std::string& name) {
  return k.namespaced ? ns + "/" + name : name;
}

std::string Str(const Json& obj, const char* section, const char* field) {
  if (!obj.is_object() || !obj.contains(section) || !obj[section].is_object()) return "";
  const Json& s = obj[section];
  return s.contains(field) && s[field].is_string() ? s[field].get<std::string>() : "";
}

Reply NotFound(const KindInfo& k, const std::string& name) {
  return StatusReply(404, "NotFound", k.QualifiedResource() + " \"" + name + "\" not found",
                     {{"name", name}, {"group", k.group}, {"kind", k.plural}});
}

Reply ConflictReply(const KindInfo& k, const std::string& name) {
  return StatusReply(409, "Conflict",
                     "Operation cannot be fulfilled on " + k.QualifiedResource() + " \"" + name +
                         "\": the object has been modified; please apply your changes to the latest version "
                         "and try again",
                     {{"name", name}, {"group", k.group}, {"kind", k.plural}});
}

Reply InvalidReply(const KindInfo& k, const std::string& name, const std::string& field,
                   const std::string& why) {
  std::string qualified = k.group.empty() ? k.kind : k.kind + "." + k.group;
  return StatusReply(
      422, "Invalid", qualified + " \"" + name + "\" is invalid: " + field + ": " + why,
      {{"name", name},
       {"group", k.group},
       {"kind", k.kind},
       {"causes", Json::array({{{"reason", "FieldValueInvalid"}, {"message", why}, {"field", field}}})}});
}

Reply BadRequest(const std::string& message) {
  return StatusReply(400, "BadRequest", message);
}

Reply StatusReply(int code, const std::string& reason, const std::string& message, Json details) {
  Json body = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
               {"status", "Failure"}, {"message", message}, {"reason", reason},
               {"code", code}};
  if (!details.is_null()) body["details"] = std::move(details);
  return Reply{code, std::move(body)};
}

}  // namespace gpupool::testing::fake
