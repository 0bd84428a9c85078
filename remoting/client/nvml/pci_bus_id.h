// PCI addresses as NVML writes and reads them: "00000000:18:00.0" (busId, an 8-digit domain),
// "0000:18:00.0" (busIdLegacy and the CUDA driver's cuDeviceGetPCIBusId). A lookup by bus id
// (nvmlDeviceGetHandleByPciBusId) accepts either, in either case, and a bus id without its domain
// or function ("18:00", domain and function 0), as NVIDIA's NVML does.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gpupool::nvml {

struct PciAddress {
  unsigned domain = 0;
  unsigned bus = 0;
  unsigned device = 0;
  unsigned function = 0;
  bool operator==(const PciAddress&) const = default;
};

// Hex fields: [domain:]bus:device[.function], domain up to 8 digits, bus 2, device 2 (below 32),
// function 1 (below 8). Anything else (other characters, a missing field, too many digits): nullopt.
std::optional<PciAddress> ParsePciBusId(std::string_view text);

// "00000000:18:00.0" (`digits_of_domain` 8) or "0000:18:00.0" (4).
std::string FormatPciBusId(const PciAddress& address, int digits_of_domain);

}  // namespace gpupool::nvml
