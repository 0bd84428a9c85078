// The three resources and their device IDs, derived only from the configured capacity so that the
// same config gives the same IDs after any restart (kubelet's checkpoint and running pods refer to
// them).
//
//   gpupool.io/gpu          one device per GPU a node may attach:     gpu-000 .. gpu-015
//   gpupool.io/gpu-percent  one device per percent unit, grouped in "GPU slots" of 100 units:
//                           slot s holds units [100 s, 100 s + 100) of the node's capacity:
//                           gpu-000-pct-000 .. gpu-000-pct-099, gpu-001-pct-000, ...
//                           (the last slot is short when the capacity is not a multiple of 100)
//   gpupool.io/gpu-memory   one device per GiB, grouped in slots the same way, 1 024 GiB each:
//                           mem-00000 .. mem-02047 (group = index / 1024)
//
// The slots are not real GPUs (those are remote and picked by the operator); they exist so that
// GetPreferredAllocation can keep one container's percent units together and leave whole slots free,
// which keeps the node's advertised units meaningful as "this many GPUs' worth".
//
// Thread-safety: pure functions and values.
#pragma once

#include <string>
#include <vector>

#include "deviceplugin/config.h"

namespace gpupool::deviceplugin {

struct ResourceSpec {
  std::string resource_name;            // "gpupool.io/gpu-percent"
  std::string socket_name;              // "gpupool-gpu-percent.sock", in the device-plugin directory
  std::vector<std::string> device_ids;  // sorted
};

inline constexpr const char* kGpuResource = "gpupool.io/gpu";
inline constexpr const char* kPercentResource = "gpupool.io/gpu-percent";
inline constexpr const char* kMemoryResource = "gpupool.io/gpu-memory";

// The three resources of a node with this capacity, in the order above.
std::vector<ResourceSpec> BuildResources(const Config& config);

// The packing group of a device ID: "gpu-003" for "gpu-003-pct-042", "mem-1" for "mem-01500";
// a GPU device is its own group.
std::string GroupOf(const std::string& device_id);

// GetPreferredAllocation for one container: must_include first, then units from groups that already
// hold must_include units, then the group whose free units fit the rest most tightly (whole groups
// before splitting), then the fullest groups. Returns at most `size` IDs, all from available or
// must_include.
std::vector<std::string> PreferredAllocation(const std::vector<std::string>& available,
                                             const std::vector<std::string>& must_include, int size);

}  // namespace gpupool::deviceplugin
