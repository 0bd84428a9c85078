// Discovery documents (/version, /api, /apis, /api/v1, /apis/<group>[/<version>]) built from the kind
// table: the legacy forms, which kubectl and the Python client accept.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace gpupool::testing::fake {

// The document for `path`, or nullopt when the path is not a discovery path.
std::optional<nlohmann::json> Discovery(const std::string& path, const std::string& server_address);

}  // namespace gpupool::testing::fake
