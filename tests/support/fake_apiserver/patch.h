// PATCH bodies as the API server applies them (k8s-api-facts §4.3): JSON merge patch (RFC 7386),
// JSON patch (RFC 6902) and, for built-in kinds, strategic merge patch with the merge keys of the
// pod fields the operator touches (schedulingGates, containers, volumes, env, ownerReferences,
// conditions by their keys; finalizers as a set) and the $patch / $deleteFromPrimitiveList
// directives.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace gpupool::testing::fake {

enum class PatchKind { kMerge, kJson, kStrategic, kApply, kUnknown };
PatchKind PatchKindFromContentType(std::string_view content_type);

// InvalidArgument for a malformed patch or a failed JSON-patch operation (the server answers 422).
Result<nlohmann::json> ApplyPatch(PatchKind kind, const nlohmann::json& original,
                                  const nlohmann::json& patch);

}  // namespace gpupool::testing::fake
