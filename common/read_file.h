// ReadTextFile: a whole file as a string (NotFound naming the path when it cannot be read). One
// reader for the token, certificate, kubeconfig and pod-info files every part reads.
//
// Thread-safety: pure function.
#pragma once

#include <string>

#include "common/status.h"

namespace gpupool {

Result<std::string> ReadTextFile(const std::string& path);

}  // namespace gpupool
