// Bearer tokens kept in files (gpupool-server --token-file, GPUPOOL_TOKEN_FILE, a projected
// service-account token): the file's content without surrounding whitespace, read at each use so a
// rotated file takes effect at once; and their comparison in constant time.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "common/status.h"

namespace gpupool {

// The token in `path`. An unreadable file is NotFound and an empty one InvalidArgument, each naming it.
Result<std::string> ReadTokenFile(const std::string& path);

// Whether `presented` equals `expected`, in time that does not depend on where they differ.
bool SameToken(const std::string& presented, const std::string& expected);

}  // namespace gpupool
