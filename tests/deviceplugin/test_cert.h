// A self-signed certificate for 127.0.0.1 (EC P-256, SAN IP:127.0.0.1, CA:TRUE so it is its own trust
// anchor), written as PEM files, for HTTPS tests of the API-server client.
#pragma once

#include <string>

#include "common/status.h"

namespace gpupool::testing {

// Writes <prefix>.crt and <prefix>.key.
Status WriteSelfSignedCert(const std::string& prefix);

}  // namespace gpupool::testing
