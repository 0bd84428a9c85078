#include "remoting/client/nvml/snapshot.h"

#include <cstdio>

#include "common/gpu_uuid.h"
#include "common/log.h"
#include "remoting/client/device_facts.h"
#include "remoting/client/local_server.h"
#include "remoting/client/rpc.h"

namespace gpupool::nvml {
namespace {

using protocol::Op;

nvmlReturn_t NotReached(const std::string& why) {
  GPUPOOL_LOG(kWarn) << "nvmlInit: no gpupool server to ask (" << why << "), so NVML has no GPU to report";
  return NVML_ERROR_DRIVER_NOT_LOADED;
}

// What NVML keeps of device `index`'s facts.
void Describe(const client::DeviceFacts& facts, unsigned index, nvmlDevice_st* d) {
  auto attribute = [&](CUdevice_attribute a) { return static_cast<unsigned>(facts.attributes[a]); };
  d->index = index;
  std::snprintf(d->name, sizeof d->name, "%s", facts.name.c_str());
  std::snprintf(d->uuid, sizeof d->uuid, "%s",
                FormatGpuUuid({facts.uuid.bytes, sizeof facts.uuid.bytes}).c_str());
  d->pci = PciAddress{attribute(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID), attribute(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
                      attribute(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID), 0};
  d->major = static_cast<int>(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
  d->minor = static_cast<int>(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
  d->total_memory = facts.total_memory;
}

// What NVML needs of device `ordinal`'s facts, from the process's own CUDA (libcuda.so.1).
CUresult FactsFromDriver(CUdevice ordinal, client::DeviceFacts* facts) {
  char name[256] = {};
  std::size_t total = 0;
  CUresult r = cuDeviceGetName(name, sizeof name - 1, ordinal);
  if (r == CUDA_SUCCESS) r = cuDeviceGetUuid(&facts->uuid, ordinal);
  if (r == CUDA_SUCCESS) r = cuDeviceTotalMem(&total, ordinal);
  facts->attributes.assign(CU_DEVICE_ATTRIBUTE_MAX, 0);
  for (CUdevice_attribute a :
       {CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID,
        CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR}) {
    if (r == CUDA_SUCCESS) r = cuDeviceGetAttribute(&facts->attributes[a], a, ordinal);
  }
  facts->name = name;
  facts->total_memory = total;
  return r;
}

// The first `n` devices (at most kMaxDevices), their facts from `fetch` and which can access which
// other's memory from `can_access` (cuDeviceCanAccessPeer's answer).
template <typename Fetch, typename CanAccess>
nvmlReturn_t Fill(int n, unsigned flags, Fetch fetch, CanAccess can_access, DeviceTable* devices,
                  unsigned* count) {
  if (n <= 0) {
    *count = 0;
    return (flags & NVML_INIT_FLAG_NO_GPUS) != 0 ? NVML_SUCCESS : NVML_ERROR_GPU_NOT_FOUND;
  }
  if (static_cast<unsigned>(n) > kMaxDevices) {
    GPUPOOL_LOG(kWarn) << "NVML reports the first " << kMaxDevices << " of the server's " << n << " GPUs";
    n = kMaxDevices;
  }
  for (unsigned i = 0; i < static_cast<unsigned>(n); ++i) {
    client::DeviceFacts facts;
    if (CUresult r = fetch(static_cast<CUdevice>(i), &facts); r != CUDA_SUCCESS) return FromCuda(r);
    Describe(facts, i, &(*devices)[i]);
  }
  for (unsigned i = 0; i < static_cast<unsigned>(n); ++i) {
    for (unsigned j = 0; j < static_cast<unsigned>(n); ++j) {
      if (i == j) continue;
      int can = 0;
      if (CUresult r = can_access(&can, static_cast<CUdevice>(i), static_cast<CUdevice>(j));
          r != CUDA_SUCCESS)
        return FromCuda(r);
      if (can != 0) (*devices)[i].peers |= 1ULL << j;
    }
  }
  *count = static_cast<unsigned>(n);
  return NVML_SUCCESS;
}

}  // namespace

nvmlReturn_t ReadDevices(unsigned flags, DeviceTable* devices, unsigned* count, int* driver_version) {
  // A process whose CUDA is initialised already has nothing to keep uninitialised: its own driver
  // answers, and the server is spared a session.
  int shown = 0;
  if (cuDeviceGetCount(&shown) == CUDA_SUCCESS) {
    if (CUresult r = cuDriverGetVersion(driver_version); r != CUDA_SUCCESS) return FromCuda(r);
    return Fill(shown, flags, FactsFromDriver, cuDeviceCanAccessPeer, devices, count);
  }
  auto address = client::FindServer();
  if (!address.ok()) return NotReached(address.status().ToString());
  address->copy_ring = false;
  auto session = client::OpenBoundSession(*address);
  if (!session.ok()) return NotReached(session.status().ToString());
  client::Session* s = session->get();
  protocol::Call<Op::DriverGetVersion>::Reply version;
  protocol::Call<Op::DeviceGetCount>::Reply devices_shown;
  CUresult r = client::RpcOn<Op::DriverGetVersion>(s, 0, {}, &version);
  if (r == CUDA_SUCCESS) r = client::RpcOn<Op::DeviceGetCount>(s, 0, {}, &devices_shown);
  if (r != CUDA_SUCCESS) return FromCuda(r);
  *driver_version = std::get<0>(version);
  return Fill(
      std::get<0>(devices_shown), flags,
      [s](CUdevice ordinal, client::DeviceFacts* facts) {
        return client::FetchDeviceFacts(s, ordinal, facts);
      },
      [s](int* can, CUdevice ordinal, CUdevice peer) {
        protocol::Call<Op::DeviceCanAccessPeer>::Reply reply;
        const CUresult asked = client::RpcOn<Op::DeviceCanAccessPeer>(s, 0, {ordinal, peer}, &reply);
        *can = std::get<0>(reply);
        return asked;
      },
      devices, count);
}

}  // namespace gpupool::nvml
