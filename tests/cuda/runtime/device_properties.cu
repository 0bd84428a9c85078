// Device properties: cudaGetDeviceProperties agrees with cudaDeviceGetAttribute, identities are
// unique, PCI ids round-trip, memory figures are consistent.
#include <cstring>
#include <vector>

#include "check.h"

namespace {

void CheckDevice(int device) {
  cudaDeviceProp prop{};
  if (!RT_CUDA(cudaGetDeviceProperties(&prop, device))) return;
  RT_CHECK(std::strlen(prop.name) > 0);
  RT_CHECK(prop.totalGlobalMem > 0);
  // These programs are built for sm_90.
  RT_CHECK(prop.major * 10 + prop.minor >= 90);

  struct Pair {
    cudaDeviceAttr attribute;
    long long expected;
    const char* what;
  };
  const Pair pairs[] = {
      {cudaDevAttrMaxThreadsPerBlock, prop.maxThreadsPerBlock, "maxThreadsPerBlock"},
      {cudaDevAttrMaxBlockDimX, prop.maxThreadsDim[0], "maxThreadsDim[0]"},
      {cudaDevAttrMaxBlockDimY, prop.maxThreadsDim[1], "maxThreadsDim[1]"},
      {cudaDevAttrMaxBlockDimZ, prop.maxThreadsDim[2], "maxThreadsDim[2]"},
      {cudaDevAttrMaxGridDimX, prop.maxGridSize[0], "maxGridSize[0]"},
      {cudaDevAttrMaxGridDimY, prop.maxGridSize[1], "maxGridSize[1]"},
      {cudaDevAttrMaxGridDimZ, prop.maxGridSize[2], "maxGridSize[2]"},
      {cudaDevAttrMaxSharedMemoryPerBlock, static_cast<long long>(prop.sharedMemPerBlock),
       "sharedMemPerBlock"},
      {cudaDevAttrTotalConstantMemory, static_cast<long long>(prop.totalConstMem), "totalConstMem"},
      {cudaDevAttrWarpSize, prop.warpSize, "warpSize"},
      {cudaDevAttrMaxRegistersPerBlock, prop.regsPerBlock, "regsPerBlock"},
      {cudaDevAttrMultiProcessorCount, prop.multiProcessorCount, "multiProcessorCount"},
      {cudaDevAttrComputeCapabilityMajor, prop.major, "major"},
      {cudaDevAttrComputeCapabilityMinor, prop.minor, "minor"},
      {cudaDevAttrMaxThreadsPerMultiProcessor, prop.maxThreadsPerMultiProcessor,
       "maxThreadsPerMultiProcessor"},
      {cudaDevAttrL2CacheSize, prop.l2CacheSize, "l2CacheSize"},
      {cudaDevAttrPciBusId, prop.pciBusID, "pciBusID"},
      {cudaDevAttrPciDeviceId, prop.pciDeviceID, "pciDeviceID"},
      {cudaDevAttrPciDomainId, prop.pciDomainID, "pciDomainID"},
      {cudaDevAttrUnifiedAddressing, prop.unifiedAddressing, "unifiedAddressing"},
  };
  for (const Pair& pair : pairs) {
    int value = -1;
    if (RT_CUDA(cudaDeviceGetAttribute(&value, pair.attribute, device)) && value != pair.expected) {
      std::printf("FAIL: device %d attribute %s: %d, cudaDeviceProp says %lld\n", device, pair.what, value,
                  pair.expected);
      ++rt::g_failures;
    }
  }
  RT_CHECK(prop.warpSize == 32);
  RT_CHECK(prop.maxThreadsPerBlock >= 1024);
  RT_CHECK(prop.multiProcessorCount > 0);

  // The PCI bus id string names this device and leads back to it.
  char bus_id[32] = {};
  if (RT_CUDA(cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, device))) {
    int domain = -1;
    int bus = -1;
    int dev = -1;
    RT_CHECK(std::sscanf(bus_id, "%x:%x:%x", &domain, &bus, &dev) == 3);
    RT_CHECK(domain == prop.pciDomainID && bus == prop.pciBusID && dev == prop.pciDeviceID);
    int found = -1;
    RT_CUDA(cudaDeviceGetByPCIBusId(&found, bus_id));
    RT_CHECK(found == device);
  }

  RT_CUDA(cudaSetDevice(device));
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  if (RT_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes))) {
    RT_CHECK(total_bytes > 0);
    RT_CHECK(free_bytes <= total_bytes);
    RT_CHECK(total_bytes <= prop.totalGlobalMem);
  }
}

}  // namespace

int main(int argc, char** argv) {
  rt::ParseOptions(argc, argv, "device_properties");
  int count = 0;
  if (!RT_CUDA(cudaGetDeviceCount(&count))) return rt::Finish("device_properties");
  std::vector<cudaUUID_t> uuids;
  for (int device = 0; device < count; ++device) {
    CheckDevice(device);
    cudaDeviceProp prop{};
    if (RT_CUDA(cudaGetDeviceProperties(&prop, device))) uuids.push_back(prop.uuid);
  }
  static const cudaUUID_t kZero{};
  for (std::size_t i = 0; i < uuids.size(); ++i) {
    RT_CHECK(std::memcmp(&uuids[i], &kZero, sizeof kZero) != 0);
    for (std::size_t j = 0; j < i; ++j) RT_CHECK(std::memcmp(&uuids[i], &uuids[j], sizeof kZero) != 0);
  }
  RT_CUDA_FAILS(cudaGetDeviceProperties(nullptr, 0), cudaErrorInvalidValue);
  cudaDeviceProp prop{};
  RT_CUDA_FAILS(cudaGetDeviceProperties(&prop, count), cudaErrorInvalidDevice);
  return rt::Finish("device_properties");
}
