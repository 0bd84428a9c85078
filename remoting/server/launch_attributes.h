// CUlaunchAttribute arrays as they travel (LaunchKernelEx, the cluster occupancy queries): raw
// bytes with event handles as session ids. Decoding checks the ids before they become enums and
// translates the events through the session's table.
//
// Thread-safety: as the Session it reads.
#pragma once

#include <cuda.h>

#include <string>
#include <vector>

#include "remoting/server/session.h"

namespace gpupool::server {

// CUDA_ERROR_INVALID_VALUE for a length that is not a whole number of attributes or an unknown id,
// CUDA_ERROR_INVALID_HANDLE for an event the session does not have.
CUresult DecodeLaunchAttributes(const Session& s, const std::string& raw,
                                std::vector<CUlaunchAttribute>* attrs);

// A CUlaunchConfig over `attrs` (which must outlive it).
CUlaunchConfig LaunchConfig(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                            unsigned shared, CUstream stream, std::vector<CUlaunchAttribute>& attrs);

}  // namespace gpupool::server
