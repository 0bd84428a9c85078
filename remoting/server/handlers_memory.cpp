// Handlers: device memory. Every allocation enters the session's table (and counts against its
// memory limit); frees and address queries accept only the session's own pointers.
#include "remoting/server/dispatch.h"

namespace gpupool::server {

GPUPOOL_HANDLER(MemGetInfo) {
  std::size_t free_bytes = 0, total = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuMemGetInfo_v2, &free_bytes, &total);
  const int device = s.CurrentDevice();
  if (const std::uint64_t limit = s.MemoryLimit(device); r == CUDA_SUCCESS && limit != 0 && limit < total) {
    // The session's share is its whole device: total is the limit, free what is left of it (as
    // DeviceTotalMem, a limit beyond the device's memory leaves the device's answer).
    std::uint64_t left = limit - std::min<std::uint64_t>(s.UsedBytes(device), limit);
    free_bytes = std::min<std::uint64_t>(free_bytes, left);
    total = limit;
  }
  *out = {free_bytes, total};
  return r;
}

GPUPOOL_HANDLER(MemAlloc) {
  std::uint64_t bytes = std::get<0>(in);
  const int device = s.CurrentDevice();
  if (CUresult r = s.CheckQuota(bytes, device); r != CUDA_SUCCESS) return r;
  CUdeviceptr ptr = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuMemAlloc_v2, &ptr, bytes);
  if (r != CUDA_SUCCESS) return r;
  s.AddAllocation(ptr, bytes, device);
  std::get<0>(*out) = ptr;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemAllocPitch) {
  const auto& [width, height, element_size] = in;
  CUdeviceptr ptr = 0;
  std::size_t pitch = 0;
  // The quota check needs the pitch, known only after the call: check the unpadded size first, the
  // real size after, and give the memory back when it does not fit.
  if (height != 0 && width > UINT64_MAX / height) return CUDA_ERROR_INVALID_VALUE;
  const int device = s.CurrentDevice();
  if (CUresult r = s.CheckQuota(width * height, device); r != CUDA_SUCCESS) return r;
  CUresult r = GPUPOOL_DRIVER(s, cuMemAllocPitch_v2, &ptr, &pitch, width, height, element_size);
  if (r != CUDA_SUCCESS) return r;
  std::uint64_t bytes = static_cast<std::uint64_t>(pitch) * height;
  if (s.CheckQuota(bytes, device) != CUDA_SUCCESS) {
    (void)GPUPOOL_DRIVER(s, cuMemFree_v2, ptr);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  s.AddAllocation(ptr, bytes, device);
  *out = {ptr, pitch};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemFree) {
  std::uint64_t size = 0;
  if (!s.memory.RemoveOwned(std::get<0>(in), &size)) return CUDA_ERROR_INVALID_VALUE;
  s.WithdrawMemoryExport(std::get<0>(in));
  s.PublishMemory();
  return GPUPOOL_DRIVER(s, cuMemFree_v2, std::get<0>(in));
}

GPUPOOL_HANDLER(MemGetAddressRange) {
  std::uint64_t base = 0, size = 0;
  if (!s.memory.Find(std::get<0>(in), &base, &size)) return CUDA_ERROR_NOT_FOUND;
  *out = {base, size};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(PointerSetSyncMemops) {
  const auto& [ptr, on] = in;
  if (CUresult r = s.CheckRange(ptr, 1); r != CUDA_SUCCESS) return r;
  unsigned value = on != 0 ? 1 : 0;
  return GPUPOOL_DRIVER(s, cuPointerSetAttribute, &value, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS,
                        static_cast<CUdeviceptr>(ptr));
}

GPUPOOL_HANDLER(MemAllocAsync) {
  const auto& [bytes, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  // Charged to the current context's device: the client sends the stream's context as current.
  const int device = s.CurrentDevice();
  if (CUresult r = s.CheckQuota(bytes, device); r != CUDA_SUCCESS) return r;
  CUdeviceptr ptr = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuMemAllocAsync, &ptr, bytes, stream);
  if (r != CUDA_SUCCESS) return r;
  s.AddAllocation(ptr, bytes, device);
  std::get<0>(*out) = ptr;
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(MemFreeAsync) {
  const auto& [ptr, stream_id] = in;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  std::uint64_t size = 0;
  if (!s.memory.RemoveOwned(ptr, &size)) return CUDA_ERROR_INVALID_VALUE;
  s.WithdrawMemoryExport(ptr);
  s.PublishMemory();
  return GPUPOOL_DRIVER(s, cuMemFreeAsync, ptr, stream);
}

}  // namespace gpupool::server
