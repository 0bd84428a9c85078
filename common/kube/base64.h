// Base64 (RFC 4648 §4: Secret data, kubeconfig *-data, webhook patches) and base64url without
// padding (§5: the parts of a JWT, such as a service-account token), on OpenSSL's codec.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool::kube {

std::string Base64(std::string_view bytes);
// Strict: padded, standard alphabet, no whitespace. InvalidArgument otherwise.
Result<std::string> Base64Decode(std::string_view text);
std::string Base64Url(std::string_view bytes);  // no '=' padding
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace gpupool::kube
