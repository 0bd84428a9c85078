// Small helpers for object metadata and the error answers the storage shares.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/fake_apiserver/kinds.h"
#include "tests/support/fake_apiserver/storage.h"

namespace gpupool::testing::fake {

std::string NewUid();      // random UUID v4
std::string NowRfc3339();  // "2026-01-01T00:00:00Z"
std::string Rfc3339(std::int64_t unix_seconds);
std::string RandomSuffix(int n);  // generateName's alphabet
std::string StorageKey(const KindInfo& k, const std::string& ns, const std::string& name);
std::string Str(const Json& obj, const char* section, const char* field);  // "" when absent

Reply NotFound(const KindInfo& k, const std::string& name);
Reply ConflictReply(const KindInfo& k, const std::string& name);
Reply InvalidReply(const KindInfo& k, const std::string& name, const std::string& field,
                   const std::string& why);
Reply BadRequest(const std::string& message);

}  // namespace gpupool::testing::fake
