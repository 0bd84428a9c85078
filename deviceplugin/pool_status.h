// Reading GPUPool objects (group gpupool.io, version v1alpha1, cluster-scoped) as the API server
// returns them. Pure JSON logic, kept apart from HTTP so it is tested without a server.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace gpupool::deviceplugin {

// True when status.gpus holds at least one GPU with healthy: true. A pool with no status yet, or no
// GPUs in it, has no healthy GPU. Malformed shapes are InvalidArgument.
Result<bool> AnyHealthyGpu(const nlohmann::json& pool);

// The name of the one GPUPool in a GPUPoolList with spec.default: true; NotFound when none is.
Result<std::string> DefaultPoolName(const nlohmann::json& list);

}  // namespace gpupool::deviceplugin
