// Handlers: mapped host memory (mapped_arena.h). A registered range enters the session's table, so
// copies and memsets may name it as device memory, as the program's kernels do.
#include "remoting/server/dispatch.h"

namespace gpupool::server {

GPUPOOL_HANDLER(MemHostRegisterMapped) {
  const auto& [address, bytes] = in;
  if (s.mapped_arena == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult r = s.mapped_arena->Register(s.api, address, bytes);
  if (r == CUDA_SUCCESS) s.memory.Add(address, bytes, AllocationTable::Kind::kHostMapped);
  s.PublishMemory();
  return r;
}

GPUPOOL_HANDLER(MemHostUnregisterMapped) {
  const std::uint64_t address = std::get<0>(in);
  if (s.mapped_arena == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // cuMemFreeHost synchronises: work of any of the session's devices may still read or write the pages,
  // which go back to the kernel next.
  for (const auto& [id, ctx] : s.contexts.all()) {
    if (GPUPOOL_DRIVER(s, cuCtxPushCurrent_v2, ctx) != CUDA_SUCCESS) continue;
    (void)GPUPOOL_DRIVER(s, cuCtxSynchronize);
    CUcontext popped = nullptr;
    (void)GPUPOOL_DRIVER(s, cuCtxPopCurrent_v2, &popped);
  }
  std::uint64_t bytes = 0;
  const CUresult r = s.mapped_arena->Unregister(s.api, address, &bytes);
  if (bytes != 0) (void)s.memory.Remove(address, AllocationTable::Kind::kHostMapped);
  s.PublishMemory();
  return r;
}

}  // namespace gpupool::server
