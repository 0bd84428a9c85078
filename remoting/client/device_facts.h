// What a client learns of each device from its server once per session: name, UUID, memory, PCI
// address and every attribute, with the client's own capabilities applied where they differ from the
// GPU's (managed and mapped host memory, virtual memory management: README "Managed and mapped host
// memory"). libcuda.so.1 keeps them for the life of its session (state.h); gpupool's NVML takes them
// through a short session of its own (nvml/devices.h).
//
// Thread-safety: FetchDeviceFacts uses `session` as any caller of it may (session.h).
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string>
#include <vector>

#include "remoting/client/session.h"

namespace gpupool::client {

struct DeviceFacts {
  std::string name;
  CUuuid uuid{};
  std::uint64_t total_memory = 0;  // the session's memory share where it has one
  std::string pci_bus_id;          // as cuDeviceGetPCIBusId writes it: "0000:18:00.0"
  std::vector<int> attributes;     // index = CUdevice_attribute
  std::vector<int> attribute_results;
};

// The facts of device `ordinal` of `session`'s server; the server's error when a query fails.
CUresult FetchDeviceFacts(Session* session, CUdevice ordinal, DeviceFacts* facts);

}  // namespace gpupool::client
