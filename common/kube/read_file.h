// ReadTextFile: a whole file as a string (NotFound naming the path when it cannot be read).
// Shared by the in-cluster and kubeconfig loaders; not part of the layer's API.
#pragma once

#include <string>

#include "common/status.h"

namespace gpupool::kube {

Result<std::string> ReadTextFile(const std::string& path);

}  // namespace gpupool::kube
