// ReplaceFile: writes a whole file through a temporary beside it and a rename, so that a reader sees
// the old bytes or the new ones, never a part. For files other processes read while we change them
// (the local GPU list pods read, the servers' CA containers read).
//
// Thread-safety: pure function; two writers of one path must not run at once.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool {

// `mode` is set whatever the umask (0644: readable by the containers a folder is mounted into).
// The temporary is ".<name>.new" in the same folder; it is removed when anything fails.
Status ReplaceFile(const std::string& path, std::string_view bytes, mode_t mode = 0644);

}  // namespace gpupool
