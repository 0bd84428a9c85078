// How GPUs are named everywhere outside the driver: the UUID text nvidia-smi and the driver print
// ("GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower-case hex), as server inventories, admissions,
// bindings and CUDA_VISIBLE_DEVICES use it. Here without CUDA types, so the client and common code can
// name a GPU from the 16 bytes cuDeviceGetUuid returns (remoting/server/gpu_identity.h wraps it for CUuuid).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace gpupool {

// `bytes`: the 16 bytes of a CUuuid. Anything else has no name: "".
inline std::string FormatGpuUuid(std::string_view bytes) {
  if (bytes.size() != 16) return "";
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  char out[64];
  std::snprintf(out, sizeof out, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

// Whether two UUID texts name the same GPU: hex digits compare without regard to case (a binding
// written by hand or by another tool may use upper case).
inline bool SameGpuUuid(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'F') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'F') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace gpupool
