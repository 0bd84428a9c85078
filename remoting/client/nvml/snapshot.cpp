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

nvmlReturn_t Describe(client::Session* session, unsigned index, nvmlDevice_st* d) {
  client::DeviceFacts facts;
  const auto ordinal = static_cast<CUdevice>(index);
  if (CUresult r = client::FetchDeviceFacts(session, ordinal, &facts); r != CUDA_SUCCESS) return FromCuda(r);
  auto attribute = [&](CUdevice_attribute a) { return static_cast<unsigned>(facts.attributes[a]); };
  d->device = ordinal;
  d->index = index;
  std::snprintf(d->name, sizeof d->name, "%s", facts.name.c_str());
  std::snprintf(d->uuid, sizeof d->uuid, "%s",
                FormatGpuUuid({facts.uuid.bytes, sizeof facts.uuid.bytes}).c_str());
  d->pci = PciAddress{attribute(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID), attribute(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
                      attribute(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID), 0};
  d->major = static_cast<int>(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
  d->minor = static_cast<int>(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
  d->total_memory = facts.total_memory;
  return NVML_SUCCESS;
}

}  // namespace

nvmlReturn_t ReadDevices(unsigned flags, DeviceTable* devices, unsigned* count, int* driver_version) {
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
  int n = std::get<0>(devices_shown);
  if (n <= 0) {
    *count = 0;
    return (flags & NVML_INIT_FLAG_NO_GPUS) != 0 ? NVML_SUCCESS : NVML_ERROR_GPU_NOT_FOUND;
  }
  if (static_cast<unsigned>(n) > kMaxDevices) {
    GPUPOOL_LOG(kWarn) << "NVML reports the first " << kMaxDevices << " of the server's " << n << " GPUs";
    n = kMaxDevices;
  }
  for (unsigned i = 0; i < static_cast<unsigned>(n); ++i) {
    if (nvmlReturn_t got = Describe(s, i, &(*devices)[i]); got != NVML_SUCCESS) return got;
  }
  *count = static_cast<unsigned>(n);
  return NVML_SUCCESS;
}

}  // namespace gpupool::nvml
