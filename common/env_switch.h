// Switches for features that are on by default (GPUPOOL_COPY_RING, GPUPOOL_FATBIN_TRIM): a variable
// set to "off" or "0" turns its feature off; unset or anything else leaves it on.
//
// Thread-safety: reads the environment; call where nothing changes it concurrently.
#pragma once

#include <cstdlib>
#include <cstring>

namespace gpupool {

inline bool EnvSwitchOn(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr || (std::strcmp(value, "off") != 0 && std::strcmp(value, "0") != 0);
}

}  // namespace gpupool
