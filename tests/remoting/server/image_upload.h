// Module images for server tests: content hashes and uploads through the image cache protocol.
//
// Thread-safety: as TestClient.
#pragma once

#include <string>
#include <string_view>

#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {

std::string Sha256(std::string_view data);
// Uploads `image` in two chunks; returns its hash.
std::string Upload(TestClient& c, const std::string& image);

}  // namespace gpupool::testing
