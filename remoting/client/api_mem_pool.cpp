// Stream-ordered allocation and memory pools, emulated on the client over the server's cuMemAlloc
// and cuMemFree (pools.h says why). Pools hold device memory only, no managed or host pools; a pool
// made with the POSIX descriptor handle type shares its allocations with other processes
// (api_ipc.cpp).
#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/client/graph_memory.h"
#include "remoting/client/graph_node_work.h"
#include "remoting/client/pools.h"

using namespace gpupool::client;

namespace {

CUresult FindPool(CUmemoryPool handle, MemPool** pool) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  *pool = Pools::Get().Find(handle);
  return *pool != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult AllocAsync(CUdeviceptr* dptr, size_t bytes, MemPool* pool, CUstream stream, bool per_thread) {
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  if (CaptureOf(stream) != nullptr) {
    // Captured: a memory alloc node, whose address is fixed now (graph_memory.h).
    CUDA_MEM_ALLOC_NODE_PARAMS params{};
    params.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    params.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    params.poolProps.location.id = pool != nullptr ? pool->device() : State::Current()->device;
    params.bytesize = bytes;
    NodeWork work;
    GPUPOOL_CU_RETURN_IF_ERROR(GraphAllocWork(&params, &work));
    CUresult captured = CUDA_SUCCESS;
    if (CaptureWork(stream, std::move(work), &captured)) {
      if (captured == CUDA_SUCCESS) *dptr = params.dptr;
      return captured;
    }
  }
  if (pool == nullptr) pool = Pools::Get().Current(State::Current()->device);
  if (pool->sharing.imported) return CUDA_ERROR_INVALID_VALUE;  // it only receives pointers
  return Pools::Get().Allocate(pool, bytes, stream, context, id, dptr);
}

CUresult FreeAsync(CUdeviceptr dptr, CUstream stream, bool per_thread) {
  std::uint64_t context = 0, id = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &id));
  if (GraphMemory::Get().Contains(dptr)) {
    // Graph memory: a memory free node while captured, else freed now (the memory itself goes back
    // when no graph refers to it any more).
    if (CaptureOf(stream) != nullptr) {
      NodeWork work;
      GPUPOOL_CU_RETURN_IF_ERROR(MemFreeWork(dptr, &work));
      CUresult captured = CUDA_SUCCESS;
      if (CaptureWork(stream, std::move(work), &captured)) return captured;
    }
    return GraphMemory::Get().MarkFreed(dptr) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  }
  // Another process's pool allocation: stream-ordered, as its exporter expects.
  if (CUresult freed = CUDA_SUCCESS; FreeImportedPoolPointer(dptr, stream, per_thread, &freed)) return freed;
  return Pools::Get().FreeAsync(dptr, stream, context, id);
}

CUresult FromPool(CUdeviceptr* dptr, size_t bytes, CUmemoryPool handle, CUstream stream, bool per_thread) {
  MemPool* pool = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindPool(handle, &pool));
  return AllocAsync(dptr, bytes, pool, stream, per_thread);
}

// The device a location names: pools live in device memory only.
CUresult LocationDevice(const CUmemLocation* location, CUmemAllocationType type, int* device) {
  if (location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_MEM_ALLOCATION_TYPE_PINNED || location->type != CU_MEM_LOCATION_TYPE_DEVICE) {
    GPUPOOL_LOG_ONCE(kWarn, "host or managed memory pools")
        << "host and managed memory pools are not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (State::Get().device(location->id) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *device = location->id;
  return CUDA_SUCCESS;
}

CUresult DevicePool(CUmemoryPool* out, int device, bool current) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (State::Get().device(device) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  MemPool* pool = current ? Pools::Get().Current(device) : Pools::Get().Default(device);
  *out = reinterpret_cast<CUmemoryPool>(pool);
  return CUDA_SUCCESS;
}

CUresult SetDevicePool(int device, CUmemoryPool handle) {
  MemPool* pool = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindPool(handle, &pool));
  if (State::Get().device(device) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (pool->device() != device) return CUDA_ERROR_INVALID_VALUE;
  Pools::Get().SetCurrent(device, pool);
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t bytes, CUstream stream) {
  return AllocAsync(dptr, bytes, nullptr, stream, false);
}
GPUPOOL_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytes, CUstream stream) {
  return AllocAsync(dptr, bytes, nullptr, stream, true);
}
GPUPOOL_API CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytes, CUmemoryPool pool,
                                             CUstream stream) {
  return FromPool(dptr, bytes, pool, stream, false);
}
GPUPOOL_API CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t bytes, CUmemoryPool pool,
                                                  CUstream stream) {
  return FromPool(dptr, bytes, pool, stream, true);
}
GPUPOOL_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream) {
  return FreeAsync(dptr, stream, false);
}
GPUPOOL_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream) {
  return FreeAsync(dptr, stream, true);
}

GPUPOOL_API CUresult cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* props) {
  if (pool == nullptr || props == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
  if (props->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    GPUPOOL_LOG_ONCE(kWarn, "host or managed memory pools")
        << "host and managed memory pools are not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if ((props->handleTypes & ~CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) != 0) {
    GPUPOOL_LOG_ONCE(kWarn, "cuMemPoolCreate(handleTypes)")
        << "cuMemPoolCreate: gpupool's pools export POSIX file descriptors only; returning "
           "CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (State::Get().device(props->location.id) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  MemPool* created = Pools::Get().Create(props->location.id, props->maxSize);
  if (props->handleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
    GPUPOOL_CU_RETURN_IF_ERROR(MakeExportable(created));
  *pool = reinterpret_cast<CUmemoryPool>(created);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemPoolDestroy(CUmemoryPool pool) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return Pools::Get().Destroy(pool);
}

GPUPOOL_API CUresult cuDeviceGetDefaultMemPool(CUmemoryPool* pool, CUdevice device) {
  return DevicePool(pool, device, false);
}
GPUPOOL_API CUresult cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice device) {
  return DevicePool(pool, device, true);
}
GPUPOOL_API CUresult cuDeviceSetMemPool(CUdevice device, CUmemoryPool pool) {
  return SetDevicePool(device, pool);
}

GPUPOOL_API CUresult cuMemGetDefaultMemPool(CUmemoryPool* pool, CUmemLocation* location,
                                            CUmemAllocationType type) {
  int device = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(LocationDevice(location, type, &device));
  return DevicePool(pool, device, false);
}
GPUPOOL_API CUresult cuMemGetMemPool(CUmemoryPool* pool, CUmemLocation* location, CUmemAllocationType type) {
  int device = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(LocationDevice(location, type, &device));
  return DevicePool(pool, device, true);
}
GPUPOOL_API CUresult cuMemSetMemPool(CUmemLocation* location, CUmemAllocationType type, CUmemoryPool pool) {
  int device = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(LocationDevice(location, type, &device));
  return SetDevicePool(device, pool);
}

GPUPOOL_API CUresult cuMemPoolSetAttribute(CUmemoryPool handle, CUmemPool_attribute attribute, void* value) {
  MemPool* pool = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindPool(handle, &pool));
  return pool->SetAttribute(attribute, value);
}
GPUPOOL_API CUresult cuMemPoolGetAttribute(CUmemoryPool handle, CUmemPool_attribute attribute, void* value) {
  MemPool* pool = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindPool(handle, &pool));
  return pool->GetAttribute(attribute, value);
}
GPUPOOL_API CUresult cuMemPoolTrimTo(CUmemoryPool handle, size_t keep) {
  MemPool* pool = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindPool(handle, &pool));
  return Pools::Get().TrimTo(pool, keep);
}

// Pool access: a pool's memory is read-write from its own device (which cannot give that up). Its
// blocks are plain allocations of the session's worker, so another device of the session reaches them
// once peer access is on from that device's primary context to the pool device's (api_peer.cpp): a
// grant of read or read-write turns it on (already on is fine) and is remembered for
// cuMemPoolGetAccess. A device cannot be made read-only or shut out again: peer access covers all of
// the pool device's memory, so the program keeps the access it had (more than asked, never less).
namespace {

CUresult AccessLocation(const CUmemLocation* location, int* device) {
  if (location == nullptr || location->type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  Device* found = nullptr;
  if (FindDevice(location->id, &found) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_VALUE;
  *device = location->id;
  return CUDA_SUCCESS;
}

// The server id of `ordinal`'s primary context, 0 while it is not retained.
std::uint64_t PrimaryId(CUdevice ordinal) {
  Device* device = State::Get().device(ordinal);
  if (device == nullptr) return 0;
  std::lock_guard<std::mutex> lock(device->primary_mu);
  return device->primary.id;
}

// Lets `device`'s kernels reach the memory of `pool_device`.
CUresult GrantPeerAccess(int device, int pool_device) {
  protocol::Call<Op::DeviceCanAccessPeer>::Reply can;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::DeviceCanAccessPeer>(0, {device, pool_device}, &can));
  if (std::get<0>(can) == 0) return CUDA_ERROR_INVALID_DEVICE;  // the devices cannot reach each other
  const std::uint64_t from = PrimaryId(device), to = PrimaryId(pool_device);
  if (from == 0 || to == 0) {
    // Peer access joins two contexts; gpupool does not make a device's primary context for the program.
    GPUPOOL_LOG_ONCE(kWarn, "cuMemPoolSetAccess without contexts")
        << "cuMemPoolSetAccess: access from device " << device << " to a pool of device " << pool_device
        << " needs both devices' primary contexts retained first; returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const CUresult r = Rpc<Op::CtxEnablePeerAccess>(from, {to, 0});
  return r == CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED ? CUDA_SUCCESS : r;
}

}  // namespace

GPUPOOL_API CUresult cuMemPoolSetAccess(CUmemoryPool handle, const CUmemAccessDesc* map, size_t count) {
  MemPool* pool = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindPool(handle, &pool));
  if (count > 0 && map == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < count; ++i) {  // checked whole before anything is decided, as the driver does
    int device = 0;
    GPUPOOL_CU_RETURN_IF_ERROR(AccessLocation(&map[i].location, &device));
    const CUmemAccess_flags f = map[i].flags;
    if (f != CU_MEM_ACCESS_FLAGS_PROT_NONE && f != CU_MEM_ACCESS_FLAGS_PROT_READ &&
        f != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
      return CUDA_ERROR_INVALID_VALUE;
    if (device == pool->device() && f != CU_MEM_ACCESS_FLAGS_PROT_READWRITE) return CUDA_ERROR_INVALID_DEVICE;
  }
  for (size_t i = 0; i < count; ++i) {
    const int device = map[i].location.id;
    if (device == pool->device()) continue;
    if (map[i].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE)
      GPUPOOL_CU_RETURN_IF_ERROR(GrantPeerAccess(device, pool->device()));
    pool->SetPeerAccess(device, map[i].flags);
  }
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemPoolGetAccess(CUmemAccess_flags* flags, CUmemoryPool handle,
                                        CUmemLocation* location) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  MemPool* pool = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindPool(handle, &pool));
  int device = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(AccessLocation(location, &device));
  *flags = device == pool->device() ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE : pool->PeerAccess(device);
  return CUDA_SUCCESS;
}
