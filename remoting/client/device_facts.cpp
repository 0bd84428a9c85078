#include "remoting/client/device_facts.h"

#include <algorithm>
#include <cstring>

#include "remoting/client/rpc.h"

namespace gpupool::client {

using protocol::Op;

namespace {

// What the device can do through gpupool, where that differs from the GPU itself: managed memory is
// emulated here without concurrent access (the GPU cannot reach the program's memory over the
// network: the host hands it over around device work), mapped host memory exists only with a mapped
// arena (a worker on this host, remoting/client/README.md), memory pools are emulated here, for
// device memory only. A feature whose
// calls gpupool answers with CUDA_ERROR_NOT_SUPPORTED (unsupported.def) is reported absent, so a program
// that checks (cuda-samples' memMapIPCDrv, cudaCompressibleMemory) takes its other path or waives
// instead of failing in the first call: fabric memory handles, compressible memory, host memory
// through virtual memory management (device memory through it works), sparse and deferred-mapping
// arrays (cuMemMapArrayAsync), dma-buf handles, external timeline semaphores, GPUDirect RDMA, stream
// waits. Interprocess handles and POSIX descriptors of virtual memory work between the sessions of one
// pod (api_ipc.cpp): there the GPU's own answer stands.
void ApplyClientCapabilities(DeviceFacts* device, bool mapped_host) {
  static constexpr std::pair<CUdevice_attribute, int> kCapabilities[] = {
      {CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, 0},
      {CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS, 0},
      {CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES, 0},
      {CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST, 0},
      {CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM, 0},
      {CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 1},
      {CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR},
      {CU_DEVICE_ATTRIBUTE_HOST_NUMA_MEMORY_POOLS_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_HOST_MEMORY_POOLS_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED, 0},
      {CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS, 0},
      {CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WRITES_ORDERING, CU_GPU_DIRECT_RDMA_WRITES_ORDERING_NONE},
      {CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR_V1, 0},
      {CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR, 0},
  };
  for (const auto& [attribute, value] : kCapabilities) {
    device->attributes[attribute] = value;
    device->attribute_results[attribute] = CUDA_SUCCESS;
  }
  device->attributes[CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY] = mapped_host ? 1 : 0;
  device->attribute_results[CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY] = CUDA_SUCCESS;
  // Managed memory is emulated on the client over virtual memory management (managed_memory.h).
  device->attributes[CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY] =
      device->attributes[CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED] != 0 ? 1 : 0;
  device->attribute_results[CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY] = CUDA_SUCCESS;
}

}  // namespace

CUresult FetchDeviceFacts(Session* session, CUdevice ordinal, DeviceFacts* facts) {
  protocol::Call<Op::DeviceGetName>::Reply name;
  protocol::Call<Op::DeviceGetUuid>::Reply uuid;
  protocol::Call<Op::DeviceTotalMem>::Reply memory;
  protocol::Call<Op::DeviceGetPCIBusId>::Reply pci;
  protocol::Call<Op::DeviceGetAttributes>::Reply attributes;
  CUresult r = RpcOn<Op::DeviceGetName>(session, 0, {ordinal}, &name);
  if (r == CUDA_SUCCESS) r = RpcOn<Op::DeviceGetUuid>(session, 0, {ordinal}, &uuid);
  if (r == CUDA_SUCCESS) r = RpcOn<Op::DeviceTotalMem>(session, 0, {ordinal}, &memory);
  if (r == CUDA_SUCCESS) r = RpcOn<Op::DeviceGetPCIBusId>(session, 0, {ordinal}, &pci);
  if (r == CUDA_SUCCESS) r = RpcOn<Op::DeviceGetAttributes>(session, 0, {ordinal}, &attributes);
  if (r != CUDA_SUCCESS) return r;
  facts->name = std::get<0>(name);
  const std::string& id = std::get<0>(uuid);
  std::memcpy(facts->uuid.bytes, id.data(), std::min(id.size(), sizeof facts->uuid.bytes));
  facts->total_memory = std::get<0>(memory);
  facts->pci_bus_id = std::get<0>(pci);
  facts->attributes = std::get<0>(attributes);
  facts->attribute_results = std::get<1>(attributes);
  facts->attributes.resize(CU_DEVICE_ATTRIBUTE_MAX, 0);
  facts->attribute_results.resize(CU_DEVICE_ATTRIBUTE_MAX, CUDA_ERROR_INVALID_VALUE);
  ApplyClientCapabilities(facts, session->mapped_arena() != nullptr);
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
