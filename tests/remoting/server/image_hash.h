// The SHA-256 by which the server's image cache knows a module image (docs/protocol.md, "Images").
//
// Thread-safety: a pure function.
#pragma once

#include <openssl/sha.h>

#include <string>
#include <string_view>

namespace gpupool::testing {

inline std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

}  // namespace gpupool::testing
